//! The parsed form of an expression. References are already resolved for their context, so
//! evaluation never matches strings to decide what a reference means.

/// A comparison operator (aliases are folded into the canonical operator by the lexer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Contains,
    Has,
    In,
    NotIn,
}

impl CmpOp {
    /// Whether the operator can be written as a keyword (so messages print it in capitals).
    pub fn is_keyword(self) -> bool {
        matches!(
            self,
            CmpOp::Contains | CmpOp::Has | CmpOp::In | CmpOp::NotIn
        )
    }
}

/// A literal scalar. Strings carry their numeric value, computed once at parse time, for
/// comparisons with numbers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Null,
    Bool(bool),
    Num(f64),
    Str {
        value: Box<str>,
        number: Option<f64>,
    },
}

impl Lit {
    pub fn string(value: String) -> Lit {
        let number = parse_number(&value);
        Lit::Str {
            value: value.into_boxed_str(),
            number,
        }
    }
}

/// Parses the number grammar shared by literals and numeric strings: optional `-`, ASCII
/// digits, optional `.` and ASCII digits; finite values only. Leading zeros are decimal.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let bytes = s.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let int_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == int_start {
        return None;
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == frac_start {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// One step of a path after its first name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Seg {
    Key(Box<str>),
    Index(usize),
}

/// A path into a JSON document: first key, then segments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Path {
    pub first: Box<str>,
    pub rest: Box<[Seg]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WorkerField {
    Sid,
    FriendlyName,
    ActivitySid,
    ActivityName,
}

impl WorkerField {
    pub fn from_name(name: &str) -> Option<WorkerField> {
        match name {
            "sid" => Some(WorkerField::Sid),
            "friendly_name" => Some(WorkerField::FriendlyName),
            "activity_sid" => Some(WorkerField::ActivitySid),
            "activity_name" => Some(WorkerField::ActivityName),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelField {
    ConfiguredCapacity,
    AssignedTasks,
    AvailableCapacityPercentage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClockField {
    CurrentTime,
    CurrentHour,
    CurrentMin,
    DayOfWeek,
}

/// A reference, resolved for its context.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ref {
    /// A task attribute path.
    TaskAttr(Path),
    /// `task.sid…`: the attributes' `sid` when present, else the task's SID (path `sid` only).
    TaskSid(Path),
    /// A worker attribute path.
    WorkerAttr(Path),
    /// A worker built-in field; when the worker does not provide it, the attribute `path`.
    WorkerField(WorkerField, Path),
    /// `worker.channel.<name>.<field>`.
    Channel(Box<str>, ChannelField),
    /// `taskrouter.<field>`.
    Clock(ClockField),
    /// `workers.available`.
    Available,
    /// `workers.unavailable`.
    Unavailable,
    /// `workers.WA…`.
    InActivity(Box<str>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Lit(Lit),
    Array(Box<[Lit]>),
    Ref(Ref),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Cmp {
        op: CmpOp,
        lhs: Operand,
        rhs: Operand,
    },
}
