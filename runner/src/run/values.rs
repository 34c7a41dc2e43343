//! Plain values on the command line: parsing `--invoke` arguments by the
//! export's parameter types and printing its results, one per line.

use crate::RunError;
use wasmtime::component::{Type, Val as CVal};
use wasmtime::{AsContextMut, Func, Val, ValType};

/// Calls a core function with `args` parsed by its parameter types.
pub(super) fn call_core(
    mut store: impl AsContextMut,
    func: &Func,
    args: &[String],
) -> Result<Vec<String>, RunError> {
    let ty = func.ty(&store);
    check_arity(ty.params().len(), args.len())?;
    let params = ty
        .params()
        .zip(args)
        .map(|(ty, arg)| parse_core(&ty, arg))
        .collect::<Result<Vec<_>, _>>()?;
    let mut results = vec![Val::I32(0); ty.results().len()];
    func.call(&mut store, &params, &mut results)
        .map_err(RunError::run)?;
    Ok(results.iter().map(print_core).collect())
}

/// Calls a component function with `args` parsed by its parameter types.
pub(super) fn call_component(
    mut store: impl AsContextMut,
    func: &wasmtime::component::Func,
    args: &[String],
) -> Result<Vec<String>, RunError> {
    let ty = func.ty(&store);
    check_arity(ty.params().len(), args.len())?;
    let params = ty
        .params()
        .zip(args)
        .map(|((_, ty), arg)| parse_component(&ty, arg))
        .collect::<Result<Vec<_>, _>>()?;
    let mut results = vec![CVal::Bool(false); ty.results().len()];
    func.call(&mut store, &params, &mut results)
        .map_err(RunError::run)?;
    Ok(results.iter().map(print_component).collect())
}

fn check_arity(expected: usize, given: usize) -> Result<(), RunError> {
    if expected == given {
        Ok(())
    } else {
        Err(RunError::run(format!(
            "the export takes {expected} argument(s), {given} given"
        )))
    }
}

fn unsupported(ty: &impl std::fmt::Debug) -> RunError {
    RunError::run(format!(
        "parameters of type {ty:?} cannot be given on the command line"
    ))
}

fn bad(arg: &str, ty: &str) -> RunError {
    RunError::run(format!("argument `{arg}` is not a valid {ty}"))
}

fn parse_core(ty: &ValType, arg: &str) -> Result<Val, RunError> {
    Ok(match ty {
        ValType::I32 => Val::I32(
            arg.parse::<i32>()
                .or_else(|_| arg.parse::<u32>().map(|v| v as i32))
                .map_err(|_| bad(arg, "i32"))?,
        ),
        ValType::I64 => Val::I64(
            arg.parse::<i64>()
                .or_else(|_| arg.parse::<u64>().map(|v| v as i64))
                .map_err(|_| bad(arg, "i64"))?,
        ),
        ValType::F32 => Val::F32(arg.parse::<f32>().map_err(|_| bad(arg, "f32"))?.to_bits()),
        ValType::F64 => Val::F64(arg.parse::<f64>().map_err(|_| bad(arg, "f64"))?.to_bits()),
        other => return Err(unsupported(other)),
    })
}

fn print_core(val: &Val) -> String {
    match val {
        Val::I32(v) => v.to_string(),
        Val::I64(v) => v.to_string(),
        Val::F32(bits) => f32::from_bits(*bits).to_string(),
        Val::F64(bits) => f64::from_bits(*bits).to_string(),
        Val::V128(v) => format!("{:#034x}", v.as_u128()),
        other => format!("{other:?}"),
    }
}

fn parse_component(ty: &Type, arg: &str) -> Result<CVal, RunError> {
    macro_rules! num {
        ($variant:ident, $ty:ty, $name:literal) => {
            CVal::$variant(arg.parse::<$ty>().map_err(|_| bad(arg, $name))?)
        };
    }
    Ok(match ty {
        Type::Bool => num!(Bool, bool, "bool"),
        Type::S8 => num!(S8, i8, "s8"),
        Type::U8 => num!(U8, u8, "u8"),
        Type::S16 => num!(S16, i16, "s16"),
        Type::U16 => num!(U16, u16, "u16"),
        Type::S32 => num!(S32, i32, "s32"),
        Type::U32 => num!(U32, u32, "u32"),
        Type::S64 => num!(S64, i64, "s64"),
        Type::U64 => num!(U64, u64, "u64"),
        Type::Float32 => num!(Float32, f32, "f32"),
        Type::Float64 => num!(Float64, f64, "f64"),
        Type::String => CVal::String(arg.to_string()),
        other => return Err(unsupported(other)),
    })
}

fn print_component(val: &CVal) -> String {
    match val {
        CVal::Bool(v) => v.to_string(),
        CVal::S8(v) => v.to_string(),
        CVal::U8(v) => v.to_string(),
        CVal::S16(v) => v.to_string(),
        CVal::U16(v) => v.to_string(),
        CVal::S32(v) => v.to_string(),
        CVal::U32(v) => v.to_string(),
        CVal::S64(v) => v.to_string(),
        CVal::U64(v) => v.to_string(),
        CVal::Float32(v) => v.to_string(),
        CVal::Float64(v) => v.to_string(),
        CVal::Char(v) => v.to_string(),
        CVal::String(v) => v.clone(),
        other => format!("{other:?}"),
    }
}
