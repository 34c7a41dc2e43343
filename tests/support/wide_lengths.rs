//! A structured generator of hostile lengths: valid binaries described as
//! trees of their length prefixes and counts, written back with any one
//! prefix replaced by a value near 2^31 or 2^32, every enclosing size
//! computed over the bytes actually written (so the hostile value is met
//! where it stands, not refused at an outer size that no longer fits).
//!
//! Shared by the bounded `cargo test` (`tests/all/wide_lengths.rs`) and the
//! differential cargo-fuzz target (`fuzz/fuzz_targets/wide_lengths.rs`).
//! The slots cover every kind of length-prefixed position the issue of
//! 32-bit safety names: section sizes, vector counts, names, data segments,
//! function bodies, locals, branch tables, custom sections and component
//! sections.

/// A binary as a tree of its bytes and the prefixes that enclose them.
#[derive(Clone, Debug)]
pub enum Node {
    /// Bytes as they are.
    Raw(Vec<u8>),
    /// A byte length (LEB128 `u32`), then the contents: a slot.
    Sized(Vec<Node>),
    /// A count of items (LEB128 `u32`), then the items: a slot.
    Counted(Vec<Vec<Node>>),
    /// A number that is no length of the tree (a run of locals, say): a slot.
    Number(u32),
}

use Node::{Counted, Number, Raw, Sized};

/// Values near the wrap points of 32-bit offset arithmetic; each slot is
/// also tried with `2^32 - offset` (its exact wrap to zero) and
/// `2^32 - binary length`.
pub const HOSTILE: &[u32] = &[
    0x7fff_ffff,
    0x8000_0000,
    0x8000_0001,
    0xc000_0000,
    0xffff_fff0,
    0xffff_fffe,
    0xffff_ffff,
];

/// `value` as LEB128, in 5 bytes when `wide` (as a hostile value needs).
fn leb(value: u32, wide: bool, out: &mut Vec<u8>) {
    let mut rest = value;
    for index in 0..5 {
        let byte = (rest & 0x7f) as u8;
        rest >>= 7;
        let last = if wide { index == 4 } else { rest == 0 };
        if last {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// How many slots `nodes` have.
pub fn slots(nodes: &[Node]) -> usize {
    nodes
        .iter()
        .map(|node| match node {
            Raw(_) => 0,
            Number(_) => 1,
            Sized(inner) => 1 + slots(inner),
            Counted(items) => 1 + items.iter().map(|item| slots(item)).sum::<usize>(),
        })
        .sum()
}

/// Writes `nodes`, with slot `hostile.0` (numbered in writing order)
/// holding `hostile.1`; returns the bytes and the offset of that slot.
pub fn write(nodes: &[Node], hostile: Option<(usize, u32)>) -> (Vec<u8>, Option<usize>) {
    let mut writer = Writer {
        next_slot: 0,
        hostile,
    };
    writer.write(nodes)
}

struct Writer {
    next_slot: usize,
    hostile: Option<(usize, u32)>,
}

impl Writer {
    /// Writes `nodes`; returns the bytes and, if the hostile slot is among
    /// them, its offset in those bytes.
    fn write(&mut self, nodes: &[Node]) -> (Vec<u8>, Option<usize>) {
        let mut out = Vec::new();
        let mut at = None;
        for node in nodes {
            // Slots are numbered in writing order: a prefix before what it
            // counts.
            let slot = self.next_slot;
            let (value, contents, inner_at) = match node {
                Raw(bytes) => {
                    out.extend_from_slice(bytes);
                    continue;
                }
                Number(value) => {
                    self.next_slot += 1;
                    (*value, Vec::new(), None)
                }
                Sized(inner) => {
                    self.next_slot += 1;
                    let (contents, inner_at) = self.write(inner);
                    (contents.len() as u32, contents, inner_at)
                }
                Counted(items) => {
                    self.next_slot += 1;
                    let mut contents = Vec::new();
                    let mut inner_at = None;
                    for item in items {
                        let (bytes, item_at) = self.write(item);
                        inner_at = inner_at.or(item_at.map(|offset| contents.len() + offset));
                        contents.extend_from_slice(&bytes);
                    }
                    (items.len() as u32, contents, inner_at)
                }
            };
            match self.hostile {
                Some((hostile, value)) if hostile == slot => {
                    at = Some(out.len());
                    leb(value, true, &mut out);
                }
                _ => leb(value, false, &mut out),
            }
            at = at.or(inner_at.map(|offset| out.len() + offset));
            out.extend_from_slice(&contents);
        }
        (out, at)
    }
}

/// A name: its length, then its bytes.
fn name(text: &str) -> Node {
    Sized(vec![Raw(text.as_bytes().to_vec())])
}

/// A section: its id, then its size and contents.
fn section(id: u8, contents: Vec<Node>) -> Vec<Node> {
    vec![Raw(vec![id]), Sized(contents)]
}

/// A core module with a slot of every kind a module has: every standard
/// section, names, data segments, bodies with locals and a branch table,
/// a `name` section and another custom section. `imports` adds an import
/// (a component's nested module goes without, to instantiate alone).
pub fn module(imports: bool) -> Vec<Node> {
    let mut nodes = vec![Raw(b"\0asm\x01\0\0\0".to_vec())];
    let functype = |params: &[u8], results: &[u8]| {
        vec![
            Raw(vec![0x60]),
            Counted(params.iter().map(|&t| vec![Raw(vec![t])]).collect()),
            Counted(results.iter().map(|&t| vec![Raw(vec![t])]).collect()),
        ]
    };
    nodes.extend(section(
        1,
        vec![Counted(vec![
            functype(&[], &[]),
            functype(&[0x7f], &[0x7f]),
        ])],
    ));
    if imports {
        nodes.extend(section(
            2,
            vec![Counted(vec![vec![
                name("env"),
                name("g"),
                Raw(vec![0x03, 0x7f, 0x00]),
            ]])],
        ));
    }
    nodes.extend(section(
        3,
        vec![Counted(vec![vec![Raw(vec![0])], vec![Raw(vec![1])]])],
    ));
    nodes.extend(section(
        4,
        vec![Counted(vec![vec![Raw(vec![0x70, 0x00, 0x02])]])],
    ));
    nodes.extend(section(5, vec![Counted(vec![vec![Raw(vec![0x00, 0x01])]])]));
    nodes.extend(section(
        6,
        vec![Counted(vec![vec![Raw(vec![0x7f, 0x00, 0x41, 0x07, 0x0b])]])],
    ));
    nodes.extend(section(
        7,
        vec![Counted(vec![
            vec![name("f"), Raw(vec![0x00, 0x00])],
            vec![name("memory"), Raw(vec![0x02, 0x00])],
        ])],
    ));
    nodes.extend(section(
        9,
        vec![Counted(vec![vec![
            Raw(vec![0x00, 0x41, 0x00, 0x0b]),
            Counted(vec![vec![Raw(vec![0])], vec![Raw(vec![1])]]),
        ]])],
    ));
    nodes.extend(section(12, vec![Number(2)]));
    // f: (local i32 i32) block block local.get 0 br_table 0 1 0 end end
    //    i32.const 0 i32.const 0 i32.store drop-free end
    let f = vec![
        Counted(vec![vec![Number(2), Raw(vec![0x7f])]]),
        Raw(vec![0x02, 0x40, 0x02, 0x40, 0x20, 0x00, 0x0e]),
        Counted(vec![vec![Raw(vec![0])], vec![Raw(vec![1])]]),
        Raw(vec![0x00, 0x0b, 0x0b]),
        Raw(vec![0x41, 0x00, 0x41, 0x00, 0x36, 0x02, 0x00, 0x0b]),
    ];
    // g: (param i32) (result i32) local.get 0 end
    let g = vec![Counted(vec![]), Raw(vec![0x20, 0x00, 0x0b])];
    nodes.extend(section(
        10,
        vec![Counted(vec![vec![Sized(f)], vec![Sized(g)]])],
    ));
    nodes.extend(section(
        11,
        vec![Counted(vec![
            vec![Raw(vec![0x00, 0x41, 0x00, 0x0b]), name("hello")],
            vec![Raw(vec![0x01]), name("passive")],
        ])],
    ));
    nodes.extend(section(
        0,
        vec![
            name("name"),
            Raw(vec![0x00]),
            Sized(vec![name("tmpl")]),
            Raw(vec![0x01]),
            Sized(vec![Counted(vec![
                vec![Number(0), name("f")],
                vec![Number(1), name("g")],
            ])]),
            Raw(vec![0x02]),
            Sized(vec![Counted(vec![vec![
                Number(0),
                Counted(vec![vec![Number(0), name("x")]]),
            ]])]),
        ],
    ));
    nodes.extend(section(
        0,
        vec![name("kiln.other"), Raw(b"payload".to_vec())],
    ));
    nodes
}

/// A component with a slot of every kind a component has: a nested core
/// module (itself [`module`] without imports), a core instance of it,
/// exports with names, and a custom section.
pub fn component() -> Vec<Node> {
    let mut nodes = vec![Raw(b"\0asm\x0d\0\x01\0".to_vec())];
    nodes.extend(section(1, module(false)));
    // (core instance (instantiate 0))
    nodes.extend(section(
        2,
        vec![Counted(vec![vec![Raw(vec![0x00, 0x00]), Counted(vec![])]])],
    ));
    // (export "m" (core module 0))
    nodes.extend(section(
        11,
        vec![Counted(vec![vec![
            Raw(vec![0x00]),
            name("m"),
            Raw(vec![0x00, 0x11, 0x00, 0x00]),
        ]])],
    ));
    nodes.extend(section(0, vec![name("kiln.component"), Raw(b"x".to_vec())]));
    nodes
}

/// Every hostile binary of `template`: each slot with each value of
/// [`HOSTILE`], its wrap to zero and `2^32 - length`.
pub fn hostile_binaries(template: &[Node]) -> Vec<Vec<u8>> {
    let (plain, _) = write(template, None);
    let mut out = Vec::new();
    for slot in 0..slots(template) {
        let (_, Some(at)) = write(template, Some((slot, 0))) else {
            continue;
        };
        let wraps = [
            (1u64 << 32).saturating_sub(at as u64) as u32,
            (1u64 << 32).saturating_sub(plain.len() as u64) as u32,
        ];
        for &value in HOSTILE.iter().chain(&wraps) {
            out.push(write(template, Some((slot, value))).0);
        }
    }
    out
}
