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

use super::layout::{Layout, Region};
use super::rules::Rule;
use super::step::{self, Context, Next, UNCHECKED_FRAME};
use super::value::{Flags, RBP, RSP, State, Value};
use super::{Report, VERIFIER_VERSION, Violation, decode};
use crate::artifact::inspect::Artifact;
use crate::artifact::inspect::functions::{Function, FunctionKind};
use iced_x86::{Instruction, InstructionInfoFactory};
use std::collections::{BTreeMap, BTreeSet};

/// How often one block may be walked before the analysis gives up on its
/// function (widening makes this unreachable in practice).
const MAX_VISITS: u32 = 64;

/// Verifies every function of `artifact`.
pub fn artifact(bytes: &[u8], artifact: &Artifact, layout: &Layout) -> Report {
    let text = usize::try_from(artifact.text.file_offset)
        .ok()
        .zip(usize::try_from(artifact.text.size).ok())
        .and_then(|(start, size)| bytes.get(start..start.checked_add(size)?))
        .unwrap_or(&[]);
    let mut violations = Vec::new();
    let mut instructions = 0;
    let mut functions = 0;
    let mut unchecked = Vec::new();
    let mut unreached = 0;
    let handlers = handlers_by_call(artifact);
    for function in &artifact.functions {
        let gc = function.module.is_some_and(|m| layout.uses_gc(m));
        let entry = if gc {
            None
        } else {
            Entry::of(function, layout)
        };
        let Some(entry) = entry else {
            unchecked.push(function.symbol.clone());
            continue;
        };
        functions += 1;
        let cx = Context {
            layout,
            text,
            function,
            functions: &artifact.functions,
            arg_bytes: u64::from(entry.arg_bytes),
            wasm: function.kind == FunctionKind::Wasm,
            handlers: &handlers,
        };
        let mut walk = Walk::new(&cx);
        walk.run(entry.state);
        instructions += walk.insns.len() as u64;
        let findings = walk.findings();
        unreached += walk.unreached;
        for (offset, rule, detail) in findings {
            violations.push(Violation {
                function: function.symbol.clone(),
                offset,
                rule,
                detail,
            });
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

/// The exception handlers of each call site, by the call's return
/// address: each handler with the caller's SP-to-FP distance there.
fn handlers_by_call(artifact: &Artifact) -> BTreeMap<u64, Vec<(u64, Option<u32>)>> {
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
            slots: BTreeMap::new(),
            flags: Flags::Unknown,
            floor: -UNCHECKED_FRAME,
            stack_checked: false,
            facts: BTreeMap::new(),
            copies: [0; 16],
            min_len: BTreeMap::new(),
            sums: BTreeMap::new(),
            after_call: false,
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

/// The analysis of one function.
struct Walk<'a> {
    cx: &'a Context<'a>,
    info: InstructionInfoFactory,
    /// Decoded instructions by offset.
    insns: BTreeMap<u64, Instruction>,
    /// Offsets that do not decode (or overlap), and why.
    bad: BTreeMap<u64, String>,
    /// The state on entry to each block, by its first offset.
    states: BTreeMap<u64, State>,
    /// The block each decoded instruction was last walked in.
    owner: BTreeMap<u64, u64>,
    queue: BTreeSet<u64>,
    visits: BTreeMap<u64, u32>,
    /// Jump tables found, as byte ranges.
    tables: BTreeMap<u64, u64>,
    /// Joins where the two paths disagree on the stack pointer.
    mismatched: BTreeSet<u64>,
    /// Blocks abandoned after too many visits.
    abandoned: BTreeSet<u64>,
    /// Findings of the final walk.
    found: BTreeSet<(u64, super::Rule, String)>,
    /// Bytes of the function no control reaches and no jump table holds.
    unreached: u64,
}

impl<'a> Walk<'a> {
    fn new(cx: &'a Context<'a>) -> Self {
        Walk {
            cx,
            info: InstructionInfoFactory::new(),
            insns: BTreeMap::new(),
            bad: BTreeMap::new(),
            states: BTreeMap::new(),
            owner: BTreeMap::new(),
            queue: BTreeSet::new(),
            visits: BTreeMap::new(),
            tables: BTreeMap::new(),
            mismatched: BTreeSet::new(),
            abandoned: BTreeSet::new(),
            found: BTreeSet::new(),
            unreached: 0,
        }
    }

    fn run(&mut self, entry: State) {
        let start = self.cx.function.start;
        self.states.insert(start, entry);
        self.queue.insert(start);
        while let Some(block) = self.queue.pop_first() {
            let visits = self.visits.entry(block).or_insert(0);
            *visits += 1;
            if *visits > MAX_VISITS {
                self.abandoned.insert(block);
                continue;
            }
            self.block(block, false);
        }
        let blocks: Vec<u64> = self.states.keys().copied().collect();
        for block in blocks {
            self.block(block, true);
        }
    }

    /// The instruction at `pc`, decoded once.
    fn decode(&mut self, pc: u64) -> Option<Instruction> {
        if let Some(insn) = self.insns.get(&pc) {
            return Some(*insn);
        }
        if self.bad.contains_key(&pc) {
            return None;
        }
        let f = self.cx.function;
        let insn = match decode::at(self.cx.text, pc, f.end()) {
            Ok(insn) => insn,
            Err(message) => {
                self.bad.insert(pc, message);
                return None;
            }
        };
        let end = insn.next_ip();
        let overlaps_before = self
            .insns
            .range(..pc)
            .next_back()
            .is_some_and(|(_, prev)| prev.next_ip() > pc);
        let overlaps_after = self.insns.range(pc + 1..end).next().is_some();
        let in_table = self
            .tables
            .range(..end)
            .next_back()
            .is_some_and(|(_, &table_end)| table_end > pc);
        if overlaps_before || overlaps_after || in_table {
            self.bad.insert(
                pc,
                "an instruction here would overlap another instruction or a jump table".to_string(),
            );
            return None;
        }
        self.insns.insert(pc, insn);
        Some(insn)
    }

    /// Joins `state` into the block at `target`.
    fn propagate(&mut self, target: u64, state: State) {
        let merged = match self.states.get(&target) {
            None => Some(state),
            // Nothing new arrives: the join would change nothing.
            Some(old) if *old == state => None,
            Some(old) => match old.join(&state, target) {
                Some(joined) if joined == *old => None,
                Some(joined) => Some(joined),
                None => {
                    self.mismatched.insert(target);
                    None
                }
            },
        };
        if let Some(state) = merged {
            let fresh = !self.states.contains_key(&target);
            self.states.insert(target, state);
            self.queue.insert(target);
            // A block that ran through `target` must now stop there.
            if fresh && let Some(&owner) = self.owner.get(&target) {
                self.queue.insert(owner);
            }
        }
    }

    /// Walks the block at `start`; with `collect`, records findings.
    fn block(&mut self, start: u64, collect: bool) {
        let Some(mut state) = self.states.get(&start).cloned() else {
            return;
        };
        let cx = self.cx;
        let mut pc = start;
        loop {
            let Some(insn) = self.decode(pc) else {
                if collect {
                    let why = self.bad.get(&pc).cloned().unwrap_or_default();
                    self.found.insert((pc, Rule::Decode, why));
                }
                return;
            };
            self.owner.insert(pc, start);
            let mut findings = Vec::new();
            let next = step::step(cx, &mut self.info, &insn, &mut state, &mut findings);
            if collect {
                for (rule, detail) in findings {
                    self.found.insert((pc, rule, detail));
                }
            }
            let after = insn.next_ip();
            if insn.mnemonic() == iced_x86::Mnemonic::Call
                && let Some(handlers) = cx.handlers.get(&after)
            {
                self.enter_handlers(handlers, &state, collect);
            }
            match next {
                Next::Fall => {
                    if after >= cx.function.end() {
                        if collect {
                            self.found.insert((
                                pc,
                                Rule::Decode,
                                "control falls off the function's end".to_string(),
                            ));
                        }
                        return;
                    }
                    if self.states.contains_key(&after) {
                        self.propagate(after, state);
                        return;
                    }
                    pc = after;
                }
                Next::Branch { target, cond } => {
                    let mut taken = state.clone();
                    if taken.refine(cond, true, cx.layout) {
                        self.propagate(target, taken);
                    }
                    if state.refine(cond, false, cx.layout) {
                        self.propagate(after, state);
                    }
                    return;
                }
                Next::Jump(target) => {
                    self.propagate(target, state);
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
                        self.propagate(target, state.clone());
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
    fn enter_handlers(&mut self, handlers: &[(u64, Option<u32>)], state: &State, collect: bool) {
        for &(handler, frame_offset) in handlers {
            if !self.cx.function.contains(handler) {
                if collect {
                    self.found.insert((
                        handler,
                        Rule::BranchTarget,
                        "exception handler outside its function".to_string(),
                    ));
                }
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
            self.propagate(handler, entry);
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
        let reached: u64 = self.insns.values().map(|i| i.len() as u64).sum();
        let tables: u64 = self.tables.iter().map(|(s, e)| e - s).sum();
        self.unreached = self.cx.function.size.saturating_sub(reached + tables);
        std::mem::take(&mut self.found).into_iter().collect()
    }
}
