//! The one Verilog printer: deterministic Verilog-2005 text from the AST.

use std::fmt::Write;

use super::ast::*;

fn unop(op: UnOp) -> &'static str {
    match op {
        UnOp::Not => "~",
        UnOp::LogicNot => "!",
        UnOp::Neg => "-",
        UnOp::ReduceOr => "|",
        UnOp::ReduceAnd => "&",
    }
}

fn binop(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::And => "&",
        BinOp::Or => "|",
        BinOp::Xor => "^",
        BinOp::LogicAnd => "&&",
        BinOp::LogicOr => "||",
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::Gt => ">",
        BinOp::Ge => ">=",
    }
}

/// Prints an expression; compound operands are parenthesised so precedence never matters.
pub fn expr(e: &Expr) -> String {
    match e {
        Expr::Ident(s) => s.clone(),
        Expr::Const { width, value } if *width <= 4 => {
            format!("{width}'b{value:0w$b}", w = *width as usize)
        }
        Expr::Const { width, value } => format!("{width}'d{value}"),
        Expr::Bit(b, i) => format!("{}[{i}]", expr(b)),
        Expr::Slice(b, hi, lo) => format!("{}[{hi}:{lo}]", expr(b)),
        Expr::Concat(items) => format!(
            "{{{}}}",
            items.iter().map(expr).collect::<Vec<_>>().join(", ")
        ),
        Expr::Repeat(n, e) => format!("{{{n}{{{}}}}}", expr(e)),
        Expr::Unary(op, e) => format!("{}{}", unop(*op), operand(e)),
        Expr::Binary(a, op, b) => format!("{} {} {}", operand(a), binop(*op), operand(b)),
        Expr::Cond(c, a, b) => format!("{} ? {} : {}", operand(c), operand(a), operand(b)),
    }
}

/// Prints a parameter value.
pub fn param(p: &Param) -> String {
    match p {
        Param::Int(v) => v.to_string(),
        Param::Str(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
        Param::Bits { width, value } => format!("{width}'h{value:x}"),
        Param::Wide { width, hex } => format!("{width}'h{hex}"),
    }
}

fn operand(e: &Expr) -> String {
    match e {
        Expr::Binary(..) | Expr::Cond(..) => format!("({})", expr(e)),
        _ => expr(e),
    }
}

fn range(width: u32) -> String {
    if width == 1 {
        String::new()
    } else {
        format!("[{}:0] ", width - 1)
    }
}

fn stmts(out: &mut String, body: &[Stmt], indent: usize) {
    let pad = "    ".repeat(indent);
    for s in body {
        match s {
            Stmt::Assign(l, r) => {
                let _ = writeln!(out, "{pad}{} <= {};", expr(l), expr(r));
            }
            Stmt::If {
                cond,
                then,
                otherwise,
            } => {
                let _ = writeln!(out, "{pad}if ({}) begin", expr(cond));
                stmts(out, then, indent + 1);
                if otherwise.is_empty() {
                    let _ = writeln!(out, "{pad}end");
                } else {
                    let _ = writeln!(out, "{pad}end else begin");
                    stmts(out, otherwise, indent + 1);
                    let _ = writeln!(out, "{pad}end");
                }
            }
        }
    }
}

/// Prints a module as Verilog-2005 (with `default_nettype none` around it).
pub fn module(m: &Module) -> String {
    let mut out = String::new();
    for h in &m.header {
        let _ = writeln!(out, "// {h}");
    }
    out.push_str("`default_nettype none\n");
    let _ = write!(out, "module {}", m.name);
    if m.ports.is_empty() {
        out.push_str(";\n");
    } else {
        out.push_str(" (\n");
        for (i, p) in m.ports.iter().enumerate() {
            let dir = if p.dir == Dir::Input {
                "input  wire"
            } else {
                "output wire"
            };
            let signed = if p.signed { "signed " } else { "" };
            let sep = if i + 1 == m.ports.len() { "" } else { "," };
            let _ = writeln!(out, "    {dir} {signed}{}{}{sep}", range(p.width), p.name);
        }
        out.push_str(");\n");
    }
    for it in &m.items {
        match it {
            Item::Comment(c) => {
                let _ = writeln!(out, "    // {c}");
            }
            Item::Net {
                kind,
                name,
                width,
                signed,
                init,
            } => {
                let k = if *kind == NetKind::Wire {
                    "wire"
                } else {
                    "reg "
                };
                let s = if *signed { "signed " } else { "" };
                let i = init
                    .as_ref()
                    .map(|e| format!(" = {}", expr(e)))
                    .unwrap_or_default();
                let _ = writeln!(out, "    {k} {s}{}{name}{i};", range(*width));
            }
            Item::Localparam { name, value } => {
                let _ = writeln!(out, "    localparam {name} = {value};");
            }
            Item::Assign(l, r) => {
                let _ = writeln!(out, "    assign {} = {};", expr(l), expr(r));
            }
            Item::Always { clock, body, keep } => {
                if *keep {
                    out.push_str("    (* keep *)\n");
                }
                let _ = writeln!(out, "    always @(posedge {clock}) begin");
                stmts(&mut out, body, 2);
                out.push_str("    end\n");
            }
            Item::Instance {
                module,
                name,
                params,
                conns,
            } => {
                let _ = write!(out, "    {module}");
                if !params.is_empty() {
                    let ps = params
                        .iter()
                        .map(|(k, v)| format!(".{k}({})", param(v)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let _ = write!(out, " #({ps})");
                }
                let _ = writeln!(out, " {name} (");
                for (i, (port, e)) in conns.iter().enumerate() {
                    let sep = if i + 1 == conns.len() { "" } else { "," };
                    let _ = writeln!(out, "        .{port}({}){sep}", expr(e));
                }
                out.push_str("    );\n");
            }
        }
    }
    out.push_str("endmodule\n`default_nettype wire\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_a_small_module_deterministically() {
        let mut m = Module::new("demo");
        m.header.push("generated by hdlgen test".into());
        let clk = m.input("clk", 1);
        let a = m.input("a", 8);
        let y = m.output("y", 8);
        let q = m.reg("q", 8);
        m.items.push(Item::Always {
            clock: "clk".into(),
            body: vec![Stmt::If {
                cond: a.clone().bit(7),
                then: vec![Stmt::Assign(q.clone(), Expr::un(UnOp::Not, a.clone()))],
                otherwise: vec![Stmt::Assign(
                    q.clone(),
                    a.clone().bin(BinOp::Add, Expr::lit(8, 1)),
                )],
            }],
            keep: false,
        });
        m.assign(
            y,
            Expr::cond(
                clk.clone(),
                q.clone(),
                Expr::Concat(vec![a.slice(3, 0), Expr::lit(4, 5)]),
            ),
        );
        let text = module(&m);
        assert_eq!(
            text,
            "// generated by hdlgen test\n`default_nettype none\nmodule demo (\n    input  wire clk,\n    input  wire [7:0] a,\n    output wire [7:0] y\n);\n    reg  [7:0] q;\n    always @(posedge clk) begin\n        if (a[7]) begin\n            q <= ~a;\n        end else begin\n            q <= a + 8'd1;\n        end\n    end\n    assign y = clk ? q : {a[3:0], 4'b0101};\nendmodule\n`default_nettype wire\n"
        );
        assert_eq!(module(&m), text, "same AST, same bytes");
    }

    #[test]
    fn popcount_latency_counts_register_stages() {
        use crate::rtl::lib::popcount_latency;
        assert_eq!(popcount_latency(1, 2), 1);
        assert_eq!(popcount_latency(2, 2), 1); // 1 level, registered as the last
        assert_eq!(popcount_latency(64, 2), 3); // 6 levels: after 2, 4, 6
        assert_eq!(popcount_latency(100, 2), 4); // 7 levels: after 2, 4, 6, 7
        assert_eq!(popcount_latency(100, 1), 7);
    }
}
