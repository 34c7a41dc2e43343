//! The unwind information (`.eh_frame`): for every function, how to find
//! the caller's frame (the CFA) at each instruction, which Wasmtime
//! registers with the system unwinder and uses itself for backtraces.
//!
//! The section is standard DWARF call-frame information, in the target's
//! byte order, parsed here with `gimli`. Wasmtime maps `.eh_frame` at its
//! file distance after `.text` and encodes FDE addresses relative to their
//! own position, so `.eh_frame`'s base address is that distance and
//! `.text`'s is 0: every address gimli gives is then an offset in `.text`.
//! Pulley artifacts have no `.eh_frame` (Pulley's interpreter unwinds its
//! own frames).
//!
//! An entry that does not parse is kept as a [`Problem`] rather than
//! ending the read, so that `--check` can name it.

use super::error::InspectError;
use gimli::{
    BaseAddresses, CfaRule, CieOrFde, EhFrame, Register, RunTimeEndian, UnwindContext,
    UnwindSection,
};
use serde::Serialize;

/// The section's name.
pub const SECTION: &str = ".eh_frame";

/// A CIE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cie {
    /// Its offset in `.eh_frame`.
    pub offset: u64,
    /// Code alignment factor.
    pub code_alignment: u64,
    /// Data alignment factor.
    pub data_alignment: i64,
    /// The return address register.
    pub return_address_register: u16,
}

/// One row of an FDE's table: the CFA rule from `start` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Offset in `.text` where the row starts.
    pub start: u64,
    /// The CFA rule, e.g. `rsp+8`.
    pub cfa: String,
    /// Whether the CFA is a stack- or frame-pointer register plus an offset.
    pub computable: bool,
}

/// An FDE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fde {
    /// Its offset in `.eh_frame`.
    pub offset: u64,
    /// The offset in `.text` of the code it covers.
    pub start: u64,
    /// One past the end of that code.
    pub end: u64,
    /// Its CFA rules.
    pub rows: Vec<Row>,
}

/// An entry that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Its offset in `.eh_frame`.
    pub offset: u64,
    /// What gimli reported.
    pub message: String,
}

/// The decoded section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Unwind {
    /// The CIEs.
    pub cies: Vec<Cie>,
    /// The FDEs.
    pub fdes: Vec<Fde>,
    /// Entries that do not parse.
    pub problems: Vec<Problem>,
}

/// Names a DWARF register, where gimli knows the architecture's names.
type RegisterName = fn(Register) -> Option<&'static str>;

/// The DWARF numbers of the stack and frame pointers, and register names.
fn registers(target: &str) -> (&'static [u16], RegisterName) {
    match target.split('-').next().unwrap_or("") {
        "x86_64" => (&[7, 6], gimli::X86_64::register_name),
        "aarch64" => (&[31, 29], gimli::AArch64::register_name),
        "riscv64" | "riscv64gc" => (&[2, 8], gimli::RiscV::register_name),
        "s390x" => (&[15, 11], |_| None),
        _ => (&[], |_| None),
    }
}

/// Decodes `.eh_frame` (`data`, at `eh_frame_distance` bytes after the
/// start of `.text` in the file) for `target`.
///
/// # Errors
///
/// None today: damage is recorded in [`Unwind::problems`]; the `Result`
/// leaves room for failures that stop the read.
pub fn parse(
    data: &[u8],
    eh_frame_distance: u64,
    big_endian: bool,
    target: &str,
) -> Result<Unwind, InspectError> {
    let endian = if big_endian {
        RunTimeEndian::Big
    } else {
        RunTimeEndian::Little
    };
    let (pointers, name) = registers(target);
    let eh_frame = EhFrame::new(data, endian);
    let bases = BaseAddresses::default()
        .set_eh_frame(eh_frame_distance)
        .set_text(0);
    let mut unwind = Unwind::default();
    let mut context = Box::new(UnwindContext::new());
    let mut entries = eh_frame.entries(&bases);
    loop {
        let entry = match entries.next() {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(e) => {
                unwind.problems.push(Problem {
                    offset: 0,
                    message: format!("the entry list stops parsing: {e}"),
                });
                break;
            }
        };
        match entry {
            CieOrFde::Cie(cie) => unwind.cies.push(Cie {
                offset: cie.offset() as u64,
                code_alignment: cie.code_alignment_factor(),
                data_alignment: cie.data_alignment_factor(),
                return_address_register: cie.return_address_register().0,
            }),
            CieOrFde::Fde(partial) => {
                let fde = match partial
                    .parse(|section, bases, offset| section.cie_from_offset(bases, offset))
                {
                    Ok(fde) => fde,
                    Err(e) => {
                        unwind.problems.push(Problem {
                            offset: 0,
                            message: format!("an FDE does not parse: {e}"),
                        });
                        continue;
                    }
                };
                let offset = fde.offset() as u64;
                let mut rows = Vec::new();
                let mut table = match fde.rows(&eh_frame, &bases, &mut context) {
                    Ok(table) => table,
                    Err(e) => {
                        unwind.problems.push(Problem {
                            offset,
                            message: format!("FDE's instructions do not parse: {e}"),
                        });
                        continue;
                    }
                };
                loop {
                    match table.next_row() {
                        Ok(Some(row)) => {
                            let (cfa, computable) = match row.cfa() {
                                CfaRule::RegisterAndOffset { register, offset } => (
                                    format!(
                                        "{}{offset:+}",
                                        name(*register).map_or_else(
                                            || format!("r{}", register.0),
                                            String::from
                                        )
                                    ),
                                    pointers.contains(&register.0),
                                ),
                                CfaRule::Expression(_) => ("(DWARF expression)".to_string(), false),
                            };
                            rows.push(Row {
                                start: row.start_address(),
                                cfa,
                                computable,
                            });
                        }
                        Ok(None) => break,
                        Err(e) => {
                            unwind.problems.push(Problem {
                                offset,
                                message: format!("FDE's rules do not evaluate: {e}"),
                            });
                            break;
                        }
                    }
                }
                unwind.fdes.push(Fde {
                    offset,
                    start: fde.initial_address(),
                    end: fde.initial_address().saturating_add(fde.len()),
                    rows,
                });
            }
        }
    }
    Ok(unwind)
}
