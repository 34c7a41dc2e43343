//! `kiln inspect`: what an artifact holds, and whether its tables agree.

use clap::Args;
use host::artifact::inspect::{self, CheckInput, code, report};
use std::path::PathBuf;
use std::process::ExitCode;

/// Show what a `.cwasm` holds: module or component, target, the Wasmtime
/// version that made it, the CPU flags its code uses and the baseline they
/// are; then its ELF sections, functions, trap table, address map, unwind
/// information, GC stack maps, exception tables, data and DWARF sections.
#[derive(Args)]
#[command(
    after_help = "Exit status: 0 fine; 1 not an artifact or damaged beyond reading \
    (the table and file offset named); 2 usage; 4 --check found a violation (the table \
    and entry named).\n\nExample: kiln inspect app.cwasm --check --input app.wasm"
)]
pub struct InspectCommand {
    /// The artifact.
    artifact: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Hold every table against the others and the code; exit 4 naming the
    /// first violation.
    #[arg(long)]
    check: bool,
    /// The wasm the artifact was compiled from: `--check` then also holds
    /// the address map to its code sections.
    #[arg(long, value_name = "WASM")]
    input: Option<PathBuf>,
    /// Print the machine code, annotated with function names, trap sites,
    /// safepoints and wasm offsets.
    #[arg(long)]
    disasm: bool,
    /// With `--disasm`: only this function (symbol, name or wasm index).
    #[arg(long, value_name = "NAME|INDEX", requires = "disasm")]
    function: Option<String>,
}

impl InspectCommand {
    pub fn execute(self) -> Result<ExitCode, host::Error> {
        let bytes = crate::flags::read_input(&self.artifact)?;
        let rejected = |error: &dyn std::fmt::Display| host::Error::Run {
            message: format!("{}: {error}", self.artifact.display()),
        };
        let artifact = inspect::read(&bytes).map_err(|e| rejected(&e))?;
        let selected = |f: &inspect::functions::Function| match &self.function {
            None => true,
            Some(wanted) => {
                f.symbol == *wanted
                    || f.name.as_deref() == Some(wanted.as_str())
                    || f.index.map(|i| i.to_string()).as_deref() == Some(wanted.as_str())
            }
        };
        let listing = if self.disasm || self.check {
            Some(code::decode(&artifact, &bytes, &selected).map_err(|e| rejected(&e))?)
        } else {
            None
        };
        if self.json {
            println!(
                "{}",
                serde_json::to_string(&artifact).expect("the artifact's tables serialize")
            );
        } else {
            print!("{}", report::record_text(&artifact));
            print!("{}", report::tables_text(&artifact));
        }
        if self.disasm
            && let Some(code) = &listing
        {
            if self.function.is_some() && code.functions.is_empty() {
                return Err(host::Error::Usage {
                    message: format!(
                        "no function {} in the artifact",
                        self.function.as_deref().unwrap_or("")
                    ),
                });
            }
            for f in &code.functions {
                let mut lines: Vec<(u64, String)> = f
                    .instructions
                    .iter()
                    .map(|i| (i.offset, format!("{} {}", i.mnemonic, i.operands)))
                    .chain(f.gaps.iter().map(|g| (g.range.start, gap_text(g))))
                    .collect();
                lines.sort_by_key(|(offset, _)| *offset);
                print!(
                    "{}",
                    report::annotated_listing(
                        &artifact,
                        lines.iter().map(|(offset, text)| report::Line {
                            offset: *offset,
                            text
                        })
                    )
                );
            }
        }
        if self.check {
            let code_sections = match &self.input {
                Some(path) => {
                    let wasm = crate::flags::read_input(path)?;
                    let wasm = wat::parse_bytes(&wasm).map_err(|e| rejected(&e))?;
                    inspect::check::code_sections(&wasm).map_err(|e| rejected(&e))?
                }
                None => Vec::new(),
            };
            let boundary = |offset: u64| listing.as_ref().is_none_or(|c| c.is_boundary(offset));
            let trap_site = |offset: u64| listing.as_ref().is_none_or(|c| c.is_trap_site(offset));
            let input = CheckInput {
                code_sections,
                instruction_start: Some(&boundary),
                trap_site: Some(&trap_site),
            };
            inspect::check(&artifact, &input).map_err(|violation| host::Error::Verification {
                message: format!("{}: {violation}", self.artifact.display()),
            })?;
            if !self.json {
                println!("\ncheck: every table holds");
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// A listing line for bytes that are no decoded instruction.
fn gap_text(gap: &code::Gap) -> String {
    let to = gap.range.end;
    match &gap.kind {
        code::GapKind::JumpTable(targets) => {
            let targets: Vec<String> = targets.iter().map(|t| format!("{t:#x}")).collect();
            format!("(jump table to {to:#x}: {})", targets.join(", "))
        }
        code::GapKind::NotDecodable(why) => format!("({why}, to {to:#x})"),
        code::GapKind::NotReached => {
            format!("(not reached from any instruction start, to {to:#x}: data or padding)")
        }
    }
}
