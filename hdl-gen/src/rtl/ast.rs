//! Typed Verilog AST: just what generated structure needs. Widths are concrete (the
//! generator knows every width from the network), so a width mismatch is a Rust-side
//! decision, not something Verilog silently extends.

/// A Verilog expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Ident(String),
    /// Sized constant `WIDTH'dVALUE` (`'b` for width 1).
    Const {
        width: u32,
        value: u128,
    },
    /// `name[index]`.
    Bit(Box<Expr>, u32),
    /// `name[hi:lo]`.
    Slice(Box<Expr>, u32, u32),
    /// `{a, b, ...}` (most significant first).
    Concat(Vec<Expr>),
    /// `{n{e}}`.
    Repeat(u32, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(Box<Expr>, BinOp, Box<Expr>),
    /// `c ? a : b`.
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Not,
    LogicNot,
    Neg,
    ReduceOr,
    ReduceAnd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    And,
    Or,
    Xor,
    LogicAnd,
    LogicOr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Expr {
    pub fn id(s: impl Into<String>) -> Self {
        Expr::Ident(s.into())
    }
    pub fn lit(width: u32, value: u128) -> Self {
        Expr::Const { width, value }
    }
    pub fn bit(self, i: u32) -> Self {
        Expr::Bit(Box::new(self), i)
    }
    pub fn slice(self, hi: u32, lo: u32) -> Self {
        Expr::Slice(Box::new(self), hi, lo)
    }
    pub fn bin(self, op: BinOp, rhs: Expr) -> Self {
        Expr::Binary(Box::new(self), op, Box::new(rhs))
    }
    pub fn un(op: UnOp, e: Expr) -> Self {
        Expr::Unary(op, Box::new(e))
    }
    pub fn cond(c: Expr, a: Expr, b: Expr) -> Self {
        Expr::Cond(Box::new(c), Box::new(a), Box::new(b))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Input,
    Output,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub name: String,
    pub dir: Dir,
    pub width: u32,
    pub signed: bool,
}

/// Declared signal kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetKind {
    Wire,
    Reg,
}

/// A statement inside `always @(posedge clk)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stmt {
    /// Non-blocking `lhs <= rhs;`.
    Assign(Expr, Expr),
    If {
        cond: Expr,
        then: Vec<Stmt>,
        otherwise: Vec<Stmt>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Comment(String),
    Net {
        kind: NetKind,
        name: String,
        width: u32,
        signed: bool,
        init: Option<Expr>,
    },
    Localparam {
        name: String,
        value: i64,
    },
    Assign(Expr, Expr),
    Always {
        clock: String,
        body: Vec<Stmt>,
        /// `(* keep *)`: yosys keeps its registers even where another block's have the
        /// same inputs (replicated resets; opt_merge would make them one again).
        keep: bool,
    },
    Instance {
        module: String,
        name: String,
        params: Vec<(String, Param)>,
        conns: Vec<(String, Expr)>,
    },
}

/// A module parameter value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Param {
    Int(i64),
    /// A string (file names for `$readmemh`).
    Str(String),
    /// A sized constant (`WIDTH'hVALUE`, two's complement), for `parameter [W-1:0]`.
    Bits {
        width: u32,
        value: u128,
    },
    /// A sized constant of any width given as hex digits (most significant first).
    Wide {
        width: u32,
        hex: String,
    },
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl From<usize> for Param {
    fn from(v: usize) -> Self {
        Param::Int(v as i64)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    pub name: String,
    /// Lines of the header comment (who generated it, from what).
    pub header: Vec<String>,
    pub ports: Vec<Port>,
    pub items: Vec<Item>,
}

impl Module {
    pub fn new(name: impl Into<String>) -> Self {
        Module {
            name: name.into(),
            header: vec![],
            ports: vec![],
            items: vec![],
        }
    }
    pub fn input(&mut self, name: &str, width: u32) -> Expr {
        self.ports.push(Port {
            name: name.into(),
            dir: Dir::Input,
            width,
            signed: false,
        });
        Expr::id(name)
    }
    pub fn output(&mut self, name: &str, width: u32) -> Expr {
        self.ports.push(Port {
            name: name.into(),
            dir: Dir::Output,
            width,
            signed: false,
        });
        Expr::id(name)
    }
    pub fn wire(&mut self, name: &str, width: u32) -> Expr {
        self.items.push(Item::Net {
            kind: NetKind::Wire,
            name: name.into(),
            width,
            signed: false,
            init: None,
        });
        Expr::id(name)
    }
    pub fn reg(&mut self, name: &str, width: u32) -> Expr {
        self.items.push(Item::Net {
            kind: NetKind::Reg,
            name: name.into(),
            width,
            signed: false,
            init: None,
        });
        Expr::id(name)
    }
    pub fn assign(&mut self, lhs: Expr, rhs: Expr) {
        self.items.push(Item::Assign(lhs, rhs));
    }
}
