//! The analysis of one function: decode from the entry along every path
//! control can take, run the abstract interpretation of [`step`] to a
//! fixed point over the control-flow graph, then walk each block once
//! more from its final state to collect what breaks the rules.
//!
//! Decoding follows the analysis, not a linear sweep: a block is decoded
//! when control is first found to reach it, and a jump table's entries are
//! read only once the index that selects them is proved bounded, so data
//! inside a function (jump tables, the constant pool) is never decoded as
//! code. An instruction that overlaps one already decoded, or crosses the
//! function's end, is a violation, not a guess.

use super::covered::Covered;
use super::decode::{self, Decoded};
use super::layout::{Layout, Region};
use super::rules::Rule;
use super::step::{self, Context, Next, UNCHECKED_FRAME};
use super::value::{Flags, RBP, RSP, State, Value};
use super::vec_map::VecMap;
use super::{Report, Unchecked, UncheckedReason, VERIFIER_VERSION, Violation};
use crate::artifact::inspect::Artifact;
use crate::artifact::inspect::functions::{Function, FunctionKind};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// How often one block may be walked before the analysis gives up on its
/// function (widening makes this unreachable in practice).
const MAX_VISITS: u32 = 64;

/// No instruction (yet), as an index of [`Walk::follow`].
const UNKNOWN: usize = usize::MAX;

/// What the analysis of one function gives.
enum Outcome {
    /// Not checked, for this reason.
    Unchecked(UncheckedReason),
    /// Checked.
    Checked {
        /// Instructions decoded.
        instructions: u64,
        /// Bytes no control reaches.
        unreached: u64,
        /// What it breaks.
        findings: Vec<Finding>,
    },
}

/// Verifies every function of `artifact`.
///
/// Functions are analysed in parallel, on Rayon's pool: each analysis
/// reads only the artifact and the layout, and the report is put
/// together in function order afterwards, so it is the same whatever
/// the number of threads.
pub fn artifact(bytes: &[u8], artifact: &Artifact, layout: &Layout) -> Report {
    let text = usize::try_from(artifact.text.file_offset)
        .ok()
        .zip(usize::try_from(artifact.text.size).ok())
        .and_then(|(start, size)| bytes.get(start..start.checked_add(size)?))
        .unwrap_or(&[]);
    let handlers = handlers_by_call(artifact);
    // Largest first, one task each: the analysis of a function costs more
    // than its size in proportion, and a few large functions, often
    // neighbours, can hold most of the work. Split by index, one thread
    // would get them all while the other ran out (resvg: 69% of the
    // samples on one of two threads); scheduled this way, the wall time
    // is near the total over the threads, or the largest function's.
    let mut order: Vec<usize> = (0..artifact.functions.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(artifact.functions[i].size));
    let mut outcomes: Vec<(usize, Outcome)> = order
        .into_par_iter()
        .with_max_len(1)
        .map(|i| {
            let function = &artifact.functions[i];
            (
                i,
                function_outcome(function, artifact, layout, text, &handlers),
            )
        })
        .collect();
    outcomes.sort_unstable_by_key(|&(i, _)| i);
    let outcomes = outcomes.into_iter().map(|(_, outcome)| outcome);
    let mut violations = Vec::new();
    let mut instructions = 0;
    let mut functions = 0;
    let mut unchecked = Vec::new();
    let mut unreached = 0;
    for (function, outcome) in artifact.functions.iter().zip(outcomes) {
        match outcome {
            Outcome::Unchecked(reason) => unchecked.push(Unchecked {
                function: function.symbol.clone(),
                reason,
            }),
            Outcome::Checked {
                instructions: count,
                unreached: bytes,
                findings,
            } => {
                functions += 1;
                instructions += count;
                unreached += bytes;
                violations.extend(
                    findings
                        .into_iter()
                        .map(|(offset, rule, detail)| Violation {
                            function: function.symbol.clone(),
                            offset,
                            rule,
                            detail,
                        }),
                );
            }
        }
    }
    violations.sort_by_key(|v| (v.offset, v.rule));
    Report {
        verifier: VERIFIER_VERSION,
        target: artifact.record.target.clone(),
        functions,
        instructions,
        violations,
        unchecked,
        unreached_bytes: unreached,
    }
}

/// The analysis of `function`.
fn function_outcome(
    function: &Function,
    artifact: &Artifact,
    layout: &Layout,
    text: &[u8],
    handlers: &Handlers,
) -> Outcome {
    if function.module.is_some_and(|m| layout.uses_gc(m)) {
        return Outcome::Unchecked(UncheckedReason::GcHeap);
    }
    let Some(entry) = Entry::of(function, layout) else {
        return Outcome::Unchecked(UncheckedReason::CallingConvention);
    };
    let cx = Context {
        layout,
        text,
        function,
        functions: &artifact.functions,
        arg_bytes: u64::from(entry.arg_bytes),
        wasm: function.kind == FunctionKind::Wasm,
        handlers,
    };
    let mut walk = Walk::new(&cx);
    walk.run(entry.state);
    let findings = walk.findings();
    Outcome::Checked {
        instructions: walk.decoded.len() as u64,
        unreached: walk.unreached,
        findings,
    }
}

/// Exception handlers by the return address of their call: each with the
/// caller's SP-to-FP distance there.
type Handlers = BTreeMap<u64, Vec<(u64, Option<u32>)>>;

/// The exception handlers of each call site, by the call's return
/// address: each handler with the caller's SP-to-FP distance there.
fn handlers_by_call(artifact: &Artifact) -> Handlers {
    let mut out: BTreeMap<u64, Vec<(u64, Option<u32>)>> = BTreeMap::new();
    let mut start = 0usize;
    for site in &artifact.exceptions.call_sites {
        let end = usize::try_from(site.handler_end).unwrap_or(usize::MAX);
        let handlers = artifact.exceptions.handlers.get(start..end).unwrap_or(&[]);
        out.entry(u64::from(site.offset)).or_default().extend(
            handlers
                .iter()
                .map(|h| (u64::from(h.offset), site.frame_offset)),
        );
        start = end.max(start);
    }
    out
}

/// What is known when a function is entered.
struct Entry {
    state: State,
    arg_bytes: u32,
}

/// `wasm[M]::NAME[N]`, split.
fn indexed<'a>(symbol: &'a str, name: &str) -> Option<(u32, u32, &'a str)> {
    let rest = symbol.strip_prefix("wasm[")?;
    let (module, rest) = rest.split_once("]::")?;
    let rest = rest.strip_prefix(name)?.strip_prefix('[')?;
    let (index, rest) = rest.split_once(']')?;
    Some((module.parse().ok()?, index.parse().ok()?, rest))
}

impl Entry {
    /// The entry state for `function`'s calling convention, or `None` for
    /// code whose convention the verifier does not model.
    fn of(function: &Function, layout: &Layout) -> Option<Entry> {
        let symbol = function.symbol.as_str();
        let mut state = State {
            regs: [Value::ANY_INT; 16],
            slots: std::rc::Rc::default(),
            flags: Flags::Unknown,
            floor: -UNCHECKED_FRAME,
            stack_checked: false,
            facts: VecMap::new(),
            copies: [0; 16],
            min_len: VecMap::new(),
            sums: VecMap::new(),
            wraps: VecMap::new(),
            after_call: false,
            loops: VecMap::new(),
            stops: VecMap::new(),
            seg_min: VecMap::new(),
            limits: VecMap::new(),
            sym_stops: VecMap::new(),
            rel: Default::default(),
        };
        state.regs[RSP] = Value::Frame(0);
        state.regs[RBP] = Value::Opaque;
        let vmctx = |module: Option<u32>| Value::Ptr {
            region: Region::VmCtx(module),
            offset: 0,
        };
        const RDX: usize = 2;
        const RSI: usize = 6;
        const RDI: usize = 7;
        let arg_bytes;
        if let (Some(module), Some(index), FunctionKind::Wasm) =
            (function.module, function.index, function.kind)
        {
            if !layout.has_module(module) {
                return None;
            }
            state.regs[RDI] = vmctx(Some(module));
            state.regs[RSI] = Value::Opaque;
            arg_bytes = layout.arg_bytes(module, index);
        } else if let Some((module, index, "")) = indexed(symbol, "array_to_wasm_trampoline") {
            if !layout.has_module(module) {
                return None;
            }
            state.regs[RDI] = vmctx(Some(module));
            state.regs[RSI] = Value::Opaque;
            state.regs[RDX] = Value::Ptr {
                region: Region::Values {
                    bytes: layout.arg_bytes(module, index),
                },
                offset: 0,
            };
            arg_bytes = 0;
        } else if let Some(rest) = symbol.strip_prefix("signatures[")
            && let Some((index, "::wasm_to_array_trampoline")) = rest.split_once(']')
            && let Ok(index) = index.parse::<u32>()
        {
            state.regs[RDI] = Value::Ptr {
                region: Region::HostFuncCtx,
                offset: 0,
            };
            state.regs[RSI] = vmctx(None);
            arg_bytes = layout.signature_bytes(0, index);
        } else if symbol.starts_with("wasmtime_builtin_") {
            state.regs[RDI] = vmctx(None);
            arg_bytes = 0;
        } else {
            return None;
        }
        // Arguments get names, so that compares of them refine copies.
        for (i, reg) in state.regs.iter_mut().enumerate() {
            *reg = reg.named((1 << 62) | i as u64);
        }
        Some(Entry { state, arg_bytes })
    }
}

/// An edge of the control-flow graph: the block it leaves (by its first
/// offset) and how. A block has at most one edge of each kind to one
/// target, apart from a jump table's entries, which all carry the same
/// state.
type Edge = (u64, EdgeKind);

/// How control leaves a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EdgeKind {
    /// Into the next instruction: no branch, or a branch not taken.
    Fall,
    /// A branch taken, or a jump.
    Taken,
    /// A jump table's entry.
    Table,
    /// The unwinder, into an exception handler of a call.
    Handler,
}

/// A broken rule at an offset, in words.
type Finding = (u64, Rule, String);

/// The analysis of one function.
struct Walk<'a> {
    cx: &'a Context<'a>,
    /// Where each decoded instruction is in `decoded`, by the bytes it
    /// covers.
    insns: Covered,
    /// Decodes the function's bytes.
    reader: decode::Reader<'a>,
    /// Decoded instructions, in the order they were first reached.
    decoded: Decoded,
    /// The block each decoded instruction was last walked in, as
    /// `decoded` is indexed.
    owner: Vec<u64>,
    /// Whether each decoded instruction has been stepped.
    stepped: Vec<bool>,
    /// The instruction each decoded one falls through to, once that is
    /// decoded too ([`UNKNOWN`] before): a walk along a block then finds
    /// its next instruction without looking it up (whether a block starts
    /// there is a bit of `insns`).
    follow: Vec<usize>,
    /// Offsets that do not decode (or overlap), and why.
    bad: BTreeMap<u64, String>,
    /// The state on entry to each block, by its first offset (boxed: a
    /// state is a kilobyte, which the map would move on every insert).
    states: BTreeMap<u64, Box<State>>,
    /// The one edge each block has been entered by, while it has only
    /// one ([`Edge`]); blocks entered by two or more, and the entry, are
    /// left out.
    only_edge: BTreeMap<u64, Option<Edge>>,
    queue: BTreeSet<u64>,
    visits: BTreeMap<u64, u32>,
    /// Jump tables found, as byte ranges.
    tables: BTreeMap<u64, u64>,
    /// Joins where the two paths disagree on the stack pointer.
    mismatched: BTreeSet<u64>,
    /// Blocks abandoned after too many visits.
    abandoned: BTreeSet<u64>,
    /// What each block's latest walk found (blocks that found nothing
    /// are left out).
    latest: BTreeMap<u64, Vec<Finding>>,
    /// Findings of the final walk.
    found: BTreeSet<Finding>,
    /// Bytes of the function no control reaches and no jump table holds.
    unreached: u64,
}

impl<'a> Walk<'a> {
    fn new(cx: &'a Context<'a>) -> Self {
        Walk {
            cx,
            insns: Covered::new(
                cx.function.start,
                cx.function.end().min(cx.text.len() as u64),
            ),
            reader: decode::Reader::new(cx.text, cx.function.start, cx.function.end()),
            decoded: Decoded::new(),
            owner: Vec::new(),
            stepped: Vec::new(),
            follow: Vec::new(),
            bad: BTreeMap::new(),
            states: BTreeMap::new(),
            only_edge: BTreeMap::new(),
            queue: BTreeSet::new(),
            visits: BTreeMap::new(),
            tables: BTreeMap::new(),
            mismatched: BTreeSet::new(),
            abandoned: BTreeSet::new(),
            latest: BTreeMap::new(),
            found: BTreeSet::new(),
            unreached: 0,
        }
    }

    fn run(&mut self, entry: State) {
        let start = self.cx.function.start;
        self.states.insert(start, Box::new(entry));
        self.insns.mark_block(start);
        self.only_edge.insert(start, None);
        self.queue.insert(start);
        while let Some(block) = self.queue.pop_first() {
            let visits = self.visits.entry(block).or_insert(0);
            *visits += 1;
            if *visits > MAX_VISITS {
                self.abandoned.insert(block);
                continue;
            }
            let mut found = Vec::new();
            self.block(block, &mut found);
            if found.is_empty() {
                self.latest.remove(&block);
            } else {
                self.latest.insert(block, found);
            }
        }
        if self.abandoned.is_empty() {
            // The fixed point is reached, so each block's latest walk ran
            // from its final state: a block is walked again whenever its
            // entry state changes, or when a block starts inside what it
            // walked through. A walk is a function of the block's state
            // and the instructions decoded (each decoded once, never
            // undone), so walking every block once more would find
            // exactly what the latest walks found.
            let latest = std::mem::take(&mut self.latest);
            self.found.extend(latest.into_values().flatten());
            return;
        }
        // Not a fixed point: the final walk is from the states as they
        // are, each block once more.
        let blocks: Vec<u64> = self.states.keys().copied().collect();
        for block in blocks {
            let mut found = Vec::new();
            self.block(block, &mut found);
            self.found.extend(found);
        }
    }

    /// The instruction at `pc`, decoded once: its index in `decoded`.
    fn decode(&mut self, pc: u64) -> Option<usize> {
        if let Some(index) = self.insns.at(pc) {
            return Some(index);
        }
        if self.bad.contains_key(&pc) {
            return None;
        }
        let insn = match self.reader.at(pc) {
            Ok(insn) => insn,
            Err(message) => {
                self.bad.insert(pc, message);
                return None;
            }
        };
        let end = insn.next_ip();
        let overlaps = self.insns.any(pc, end);
        let in_table = self
            .tables
            .range(..end)
            .next_back()
            .is_some_and(|(_, &table_end)| table_end > pc);
        if overlaps || in_table {
            self.bad.insert(
                pc,
                "an instruction here would overlap another instruction or a jump table".to_string(),
            );
            return None;
        }
        let index = self.decoded.push(insn);
        self.owner.push(pc);
        self.stepped.push(false);
        self.follow.push(UNKNOWN);
        self.insns.cover(pc, end, index);
        Some(index)
    }

    /// Joins `state`, arriving by `edge`, into the block at `target`.
    ///
    /// A block entered by one edge alone takes what arrives by it in
    /// place of what it had: that edge's source was walked again from a
    /// state that holds all its earlier ones, so the new state holds all
    /// that can arrive, and no join is needed to say so. (A join there
    /// would cost as much as a walk and blur names that later compares
    /// refine.) Once a second edge arrives, the block joins, as every
    /// block used to.
    fn propagate(&mut self, target: u64, state: State, edge: Edge) {
        let only = match self.only_edge.get(&target) {
            None => {
                self.only_edge.insert(target, Some(edge));
                true
            }
            Some(Some(one)) if *one == edge => true,
            Some(Some(_)) => {
                self.only_edge.insert(target, None);
                false
            }
            Some(None) => false,
        };
        // (Each arm moves the kilobyte of state once, straight to where it
        // is kept.)
        let Some(old) = self.states.get_mut(&target) else {
            self.states.insert(target, Box::new(state));
            self.insns.mark_block(target);
            self.queue.insert(target);
            // A block that ran through `target` must now stop there.
            if let Some(index) = self.insns.at(target) {
                self.queue.insert(self.owner[index]);
            }
            return;
        };
        if **old == state {
            // Nothing new arrives: the join would change nothing.
            return;
        }
        if only {
            **old = state;
        } else {
            // An edge from a block before `target` is a loop's entry (or
            // no loop's); one from `target` or after, its back edge.
            match old.join(&state, target, edge.0 < target) {
                Some(joined) if joined == **old => return,
                Some(joined) => **old = joined,
                None => {
                    self.mismatched.insert(target);
                    return;
                }
            }
        }
        self.queue.insert(target);
    }

    /// Walks the block at `start`, pushing what it finds onto `found`.
    fn block(&mut self, start: u64, found: &mut Vec<Finding>) {
        let Some(mut state) = self.states.get(&start).map(|s| State::clone(s)) else {
            return;
        };
        let cx = self.cx;
        let mut pc = start;
        let mut findings = Vec::new();
        // The instruction at `pc`, when known, and the one before it.
        let mut known = UNKNOWN;
        let mut previous = UNKNOWN;
        loop {
            let index = if known != UNKNOWN {
                known
            } else {
                let Some(index) = self.decode(pc) else {
                    let why = self.bad.get(&pc).cloned().unwrap_or_default();
                    found.push((pc, Rule::Decode, why));
                    return;
                };
                if previous != UNKNOWN {
                    self.follow[previous] = index;
                }
                index
            };
            self.owner[index] = start;
            let mut decoded = self.decoded.get(index);
            decoded.first = !std::mem::replace(&mut self.stepped[index], true);
            let insn = *decoded.insn;
            let next = step::step(cx, &decoded, &mut state, &mut findings);
            found.extend(findings.drain(..).map(|(rule, detail)| (pc, rule, detail)));
            let after = insn.next_ip();
            if insn.mnemonic() == iced_x86::Mnemonic::Call
                && let Some(handlers) = cx.handlers.get(&after)
            {
                self.enter_handlers(start, handlers, &state, found);
            }
            match next {
                Next::Fall => {
                    if after >= cx.function.end() {
                        found.push((
                            pc,
                            Rule::Decode,
                            "control falls off the function's end".to_string(),
                        ));
                        return;
                    }
                    if self.insns.is_block(after) {
                        self.propagate(after, state, (start, EdgeKind::Fall));
                        return;
                    }
                    pc = after;
                    known = self.follow[index];
                    previous = index;
                }
                Next::Branch { target, cond } => {
                    let mut taken = state.clone();
                    if taken.refine(cond, true, cx.layout) {
                        self.propagate(target, taken, (start, EdgeKind::Taken));
                    }
                    if state.refine(cond, false, cx.layout) {
                        self.propagate(after, state, (start, EdgeKind::Fall));
                    }
                    return;
                }
                Next::Jump(target) => {
                    self.propagate(target, state, (start, EdgeKind::Taken));
                    return;
                }
                Next::Table(targets) => {
                    let entries = targets.len() as u64;
                    let mut end = after + 4 * entries;
                    // Cranelift ends the sequence with a `jmp` to the
                    // default target, which the table always skips.
                    if let Ok(tail) = decode::at(cx.text, end, cx.function.end())
                        && tail.mnemonic() == iced_x86::Mnemonic::Jmp
                        && tail.op_kind(0) == iced_x86::OpKind::NearBranch64
                        && cx.function.contains(tail.near_branch_target())
                    {
                        end = tail.next_ip();
                    }
                    self.tables.insert(after, end);
                    for target in targets {
                        self.propagate(target, state.clone(), (start, EdgeKind::Table));
                    }
                    return;
                }
                Next::Stop => return,
            }
        }
    }

    /// Control reaches each handler of a call from the unwinder: with the
    /// frame as it was at the call (SP from the recorded SP-to-FP
    /// distance) and every other register unknown, as Cranelift's
    /// exception ABI clobbers them all.
    fn enter_handlers(
        &mut self,
        from: u64,
        handlers: &[(u64, Option<u32>)],
        state: &State,
        found: &mut Vec<Finding>,
    ) {
        for &(handler, frame_offset) in handlers {
            if !self.cx.function.contains(handler) {
                found.push((
                    handler,
                    Rule::BranchTarget,
                    "exception handler outside its function".to_string(),
                ));
                continue;
            }
            let mut entry = state.clone();
            for (i, reg) in entry.regs.iter_mut().enumerate() {
                if i != RSP && i != RBP {
                    *reg = Value::ANY_INT.named((1 << 60) | (handler << 4) | i as u64);
                }
            }
            if let (Some(distance), Value::Frame(fp)) = (frame_offset, entry.regs[RBP]) {
                entry.regs[RSP] = Value::Frame(fp - i64::from(distance));
            }
            entry.flags = Flags::Unknown;
            entry.after_call = false;
            entry.copies = [0; 16];
            self.propagate(handler, entry, (from, EdgeKind::Handler));
        }
    }

    /// Everything the final walk found, plus coverage, joins and limits.
    fn findings(&mut self) -> Vec<(u64, Rule, String)> {
        for &at in &self.mismatched {
            self.found.insert((
                at,
                Rule::StackCheck,
                "paths join here with different stack pointers".to_string(),
            ));
        }
        for &at in &self.abandoned {
            self.found.insert((
                at,
                Rule::Limit,
                format!("block walked more than {MAX_VISITS} times"),
            ));
        }
        let reached: u64 = self.decoded.iter().map(|i| i.len() as u64).sum();
        let tables: u64 = self.tables.iter().map(|(s, e)| e - s).sum();
        self.unreached = self.cx.function.size.saturating_sub(reached + tables);
        std::mem::take(&mut self.found).into_iter().collect()
    }
}
