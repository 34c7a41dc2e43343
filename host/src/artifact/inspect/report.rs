//! `kiln inspect`'s human output: the settings record first (its lines
//! are stable; tests and scripts read them), then each table, and with
//! `--disasm` the code listing annotated from the tables.

use super::Artifact;
use super::functions::FunctionKind;
use std::fmt::Write as _;

/// The settings record's lines, as `kiln inspect` has always printed them.
pub fn record_text(artifact: &Artifact) -> String {
    let info = &artifact.record;
    let flags: Vec<&str> = info.cpu_flags.iter().map(String::as_str).collect();
    format!(
        "kind: {:?}\ntarget: {}\nwasmtime: {}\nbaseline: {}\ncpu flags: {}\n",
        info.kind,
        info.target,
        info.wasmtime_version,
        info.baseline
            .unwrap_or("(none: flags beyond a named baseline)"),
        if flags.is_empty() {
            "(none)".to_string()
        } else {
            flags.join(", ")
        }
    )
}

/// Every table, after the record.
pub fn tables_text(artifact: &Artifact) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "kiln: {}", artifact.kiln_version);
    let _ = writeln!(out, "\nsections:");
    for s in &artifact.sections {
        if s.name.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "  {:<24} offset {:#08x} size {:#08x} flags {}",
            s.name,
            s.file_offset,
            s.size,
            s.flag_letters()
        );
    }
    let _ = writeln!(out, "\nfunctions ({}):", artifact.functions.len());
    for f in &artifact.functions {
        let what = match (f.kind, f.module, f.index) {
            (FunctionKind::Wasm, Some(m), Some(i)) => format!(
                "module {m} function {i}{}",
                f.name
                    .as_deref()
                    .map(|n| format!(" {n}"))
                    .unwrap_or_default()
            ),
            (FunctionKind::Trampoline, ..) => format!("trampoline {}", f.symbol),
            _ => format!("other {}", f.symbol),
        };
        let _ = writeln!(out, "  {:#08x}..{:#08x} {what}", f.start, f.end());
    }
    let _ = writeln!(out, "\ntraps ({}):", artifact.traps.len());
    for t in &artifact.traps {
        let _ = writeln!(
            out,
            "  {:#08x} {}",
            t.offset,
            t.kind.as_deref().unwrap_or("(unknown code)")
        );
    }
    let _ = writeln!(out, "\naddress map ({}):", artifact.address_map.len());
    for a in &artifact.address_map {
        let _ = match a.wasm_offset {
            Some(w) => writeln!(out, "  {:#08x} -> wasm {w:#x}", a.offset),
            None => writeln!(out, "  {:#08x} -> (generated)", a.offset),
        };
    }
    match &artifact.unwind {
        None => {
            let _ = writeln!(out, "\nunwind: none");
        }
        Some(unwind) => {
            let _ = writeln!(
                out,
                "\nunwind: {} CIEs, {} FDEs",
                unwind.cies.len(),
                unwind.fdes.len()
            );
            for c in &unwind.cies {
                let _ = writeln!(
                    out,
                    "  CIE at {:#x}: code align {}, data align {}, return address r{}",
                    c.offset, c.code_alignment, c.data_alignment, c.return_address_register
                );
            }
            for f in &unwind.fdes {
                let rows: Vec<String> = f
                    .rows
                    .iter()
                    .map(|r| format!("{:#x}: {}", r.start, r.cfa))
                    .collect();
                let _ = writeln!(
                    out,
                    "  FDE at {:#x}: {:#x}..{:#x} cfa {}",
                    f.offset,
                    f.start,
                    f.end,
                    rows.join(", ")
                );
            }
            for p in &unwind.problems {
                let _ = writeln!(out, "  unreadable entry at {:#x}: {}", p.offset, p.message);
            }
        }
    }
    let maps = &artifact.stack_maps;
    let _ = writeln!(out, "\nstack maps ({}):", maps.entries.len());
    for m in &maps.entries {
        let slots: Vec<String> = maps.live_slots(m).map(|s| format!("{s:#x}")).collect();
        let _ = writeln!(
            out,
            "  {:#08x} frame {:#x} live SP+[{}]",
            m.pc,
            m.frame_size,
            slots.join(", ")
        );
    }
    let ex = &artifact.exceptions;
    let _ = writeln!(
        out,
        "\nexception call sites ({}), handlers ({}):",
        ex.call_sites.len(),
        ex.handlers.len()
    );
    let mut start = 0usize;
    for site in &ex.call_sites {
        let end = (site.handler_end as usize).clamp(start, ex.handlers.len().max(start));
        let handlers: Vec<String> = ex
            .handlers
            .get(start..end)
            .unwrap_or(&[])
            .iter()
            .map(|h| match h.tag {
                Some(tag) => format!("tag {tag} -> {:#x}", h.offset),
                None => format!("all -> {:#x}", h.offset),
            })
            .collect();
        let frame = site
            .frame_offset
            .map_or_else(|| "-".to_string(), |f| format!("{f:#x}"));
        let _ = writeln!(
            out,
            "  {:#08x} frame {frame} [{}]",
            site.offset,
            handlers.join(", ")
        );
        start = end;
    }
    let _ = writeln!(
        out,
        "\ndata segments: {} bytes",
        artifact.data_segment_bytes
    );
    if artifact.dwarf.is_empty() {
        let _ = writeln!(out, "dwarf: none");
    } else {
        for (name, size) in &artifact.dwarf {
            let _ = writeln!(out, "dwarf: {name} {size} bytes");
        }
    }
    out
}

/// One disassembled instruction, as the listing needs it.
pub struct Line<'a> {
    /// Its offset in `.text`.
    pub offset: u64,
    /// Its text (mnemonic and operands).
    pub text: &'a str,
}

/// The code listing of `lines` (one function's or all), with function
/// names, trap sites, safepoints and wasm offsets interleaved.
pub fn annotated_listing<'a>(
    artifact: &Artifact,
    lines: impl IntoIterator<Item = Line<'a>>,
) -> String {
    let mut out = String::new();
    let mut address = artifact.address_map.iter().peekable();
    let mut wasm: Option<u32> = None;
    for line in lines {
        // Binary searches: the tables are sorted (and where damage unsorts
        // them, a note goes missing, nothing worse).
        let first = artifact
            .functions
            .partition_point(|f| f.start < line.offset);
        if let Some(f) = artifact.functions.get(first)
            && f.start == line.offset
        {
            let _ = writeln!(out, "\n{}:", f.symbol);
        }
        let mut notes = Vec::new();
        while let Some(a) = address.next_if(|a| u64::from(a.offset) <= line.offset) {
            if u64::from(a.offset) == line.offset || wasm != a.wasm_offset {
                wasm = a.wasm_offset;
                if let Some(w) = a.wasm_offset {
                    notes.push(format!("wasm {w:#x}"));
                }
            }
        }
        let trap = artifact
            .traps
            .partition_point(|t| u64::from(t.offset) < line.offset);
        if let Some(t) = artifact.traps.get(trap)
            && u64::from(t.offset) == line.offset
        {
            notes.push(format!(
                "trap: {}",
                t.kind.as_deref().unwrap_or("(unknown code)")
            ));
        }
        let maps = &artifact.stack_maps.entries;
        let map = maps.partition_point(|m| u64::from(m.pc) < line.offset);
        if let Some(m) = maps.get(map)
            && u64::from(m.pc) == line.offset
        {
            notes.push(format!("safepoint: frame {:#x}", m.frame_size));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("  ; {}", notes.join("; "))
        };
        let _ = writeln!(out, "  {:8x}: {}{notes}", line.offset, line.text);
    }
    out
}
