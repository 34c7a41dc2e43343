-- wrk script for Kiln's load test: POSTs the good inputs in turn to
-- /v1/compile and checks every 200 body byte for byte against the
-- artifact `kiln compile` wrote for that input.
--
-- wrk -s good.lua URL -- TARGET INPUT=SHA256=EXPECTED [...]
-- Prints one JSON line at the end (see done()).
--
-- A wrk thread drives several connections from one Lua state, so a
-- response cannot be matched to "the last request sent"; it is matched by
-- the input digest the service echoes in `kiln-input-sha256`.

local threads = {}

local function read_all(path)
  local file = assert(io.open(path, "rb"))
  local bytes = file:read("*a")
  file:close()
  return bytes
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  target = args[1]
  inputs, expected = {}, {}
  for i = 2, #args do
    local input, digest, artifact = args[i]:match("^([^=]+)=([0-9a-f]+)=(.+)$")
    table.insert(inputs, read_all(input))
    expected[digest] = read_all(artifact)
  end
  turn = 0
  ok, corrupt, other, statuses = 0, 0, 0, ""
end

function request()
  turn = turn % #inputs + 1
  return wrk.format("POST", "/v1/compile?target=" .. target,
    { ["Content-Type"] = "application/wasm" }, inputs[turn])
end

function response(status, headers, body)
  if status == 200 then
    local want = expected[headers["kiln-input-sha256"] or ""]
    if want ~= nil and body == want then ok = ok + 1 else corrupt = corrupt + 1 end
  else
    other = other + 1
    if #statuses < 200 then statuses = statuses .. status .. " " end
  end
end

function done(summary, latency, requests)
  local ok_total, corrupt_total, other_total, seen = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    ok_total = ok_total + thread:get("ok")
    corrupt_total = corrupt_total + thread:get("corrupt")
    other_total = other_total + thread:get("other")
    seen = seen .. thread:get("statuses")
  end
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"rps":%.2f,"ok":%d,"corrupt":%d,"other":%d,' ..
    '"other_statuses":"%s","socket_errors":%d,"timeouts":%d,' ..
    '"p50_ms":%.1f,"p90_ms":%.1f,"p99_ms":%.1f,"max_ms":%.1f}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    ok_total, corrupt_total, other_total, seen,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
