//! Turns source text into tokens. A reference (`a.b[2].c`) is lexed as one token, so a word
//! directly after a `.` is always a path segment and never a keyword.
//!
//! The lexer works on characters so that every column it reports is a 1-based character column.

use crate::ast::{CmpOp, Lit, Seg};
use crate::error::ExprError;

/// Longest source accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 65_536;

/// Longest token text quoted back in an error message, in characters.
const MAX_QUOTED_CHARS: usize = 40;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Cmp(CmpOp),
    And,
    Or,
    Not,
    Lit(Lit),
    /// A reference: its first name and the segments after it.
    Ref(RefSyntax),
    Eof,
}

/// A reference as written, before a context gives it a meaning.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RefSyntax {
    pub root: String,
    pub rest: Vec<Seg>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    /// 1-based character column of the token's first character.
    pub col: usize,
    /// The token as written (shortened), for error messages.
    pub text: String,
}

impl Token {
    /// How an error message names this token: `'is_vip'`, `IN`, or `end of input`.
    pub fn describe(&self) -> String {
        match &self.tok {
            Tok::Eof => "end of input".to_owned(),
            Tok::And | Tok::Or | Tok::Not => self.text.to_uppercase(),
            Tok::Cmp(op) if op.is_keyword() => self.text.to_uppercase(),
            // A string literal already shows its quotes.
            Tok::Lit(Lit::Str { .. }) => self.text.clone(),
            _ => format!("'{}'", self.text),
        }
    }
}

pub(crate) fn err(message: impl Into<String>, column: usize) -> ExprError {
    ExprError {
        message: message.into(),
        column,
    }
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c == '$' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c == '$' || c.is_alphanumeric()
}

/// Splits `source` into tokens, ending with [`Tok::Eof`].
pub(crate) fn lex(source: &str) -> Result<Vec<Token>, ExprError> {
    if source.len() > MAX_SOURCE_BYTES {
        // Point at the first character that does not fit.
        let fits = (0..=MAX_SOURCE_BYTES)
            .rev()
            .find(|&i| source.is_char_boundary(i))
            .unwrap_or(0);
        let column = source.get(..fits).map_or(0, |s| s.chars().count()) + 1;
        return Err(err(
            format!("expression is longer than the limit of {MAX_SOURCE_BYTES} bytes"),
            column,
        ));
    }
    Lexer {
        chars: source.chars().collect(),
        pos: 0,
        tokens: Vec::new(),
    }
    .run()
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    tokens: Vec<Token>,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn text(&self, start: usize) -> String {
        let end = self.pos.min(start + MAX_QUOTED_CHARS);
        let mut s: String = self.chars[start..end].iter().collect();
        if self.pos > end {
            s.push('…');
        }
        s
    }

    fn push(&mut self, tok: Tok, start: usize) {
        let text = self.text(start);
        self.tokens.push(Token {
            tok,
            col: start + 1,
            text,
        });
    }

    fn run(mut self) -> Result<Vec<Token>, ExprError> {
        while let Some(c) = self.peek() {
            let start = self.pos;
            if c.is_whitespace() {
                self.pos += 1;
                continue;
            }
            let next = self.peek_at(1);
            let (tok, len) = match (c, next) {
                ('(', _) => (Tok::LParen, 1),
                (')', _) => (Tok::RParen, 1),
                ('[', _) => (Tok::LBracket, 1),
                (']', _) => (Tok::RBracket, 1),
                (',', _) => (Tok::Comma, 1),
                ('=', Some('=')) => (Tok::Cmp(CmpOp::Eq), 2),
                ('=', _) => (Tok::Cmp(CmpOp::Eq), 1),
                ('!', Some('=')) => (Tok::Cmp(CmpOp::Ne), 2),
                ('!', _) => {
                    return Err(err(
                        "unexpected character '!' (write != for inequality, NOT for negation)",
                        start + 1,
                    ))
                }
                ('>', Some('=')) => (Tok::Cmp(CmpOp::Ge), 2),
                ('>', Some('-')) => (Tok::Cmp(CmpOp::Has), 2),
                ('>', _) => (Tok::Cmp(CmpOp::Gt), 1),
                ('<', Some('=')) => (Tok::Cmp(CmpOp::Le), 2),
                ('<', Some('-')) => (Tok::Cmp(CmpOp::In), 2),
                ('<', _) => (Tok::Cmp(CmpOp::Lt), 1),
                ('&', Some('&')) => (Tok::And, 2),
                ('|', Some('|')) => (Tok::Or, 2),
                ('\'' | '"', _) => {
                    self.string(c)?;
                    continue;
                }
                ('-', Some(d)) if d.is_ascii_digit() => {
                    self.number()?;
                    continue;
                }
                (d, _) if d.is_ascii_digit() => {
                    self.number()?;
                    continue;
                }
                (w, _) if is_ident_start(w) => {
                    self.word()?;
                    continue;
                }
                _ => return Err(err(format!("unexpected character {c:?}"), start + 1)),
            };
            self.pos += len;
            self.push(tok, start);
        }
        let end = self.chars.len();
        self.tokens.push(Token {
            tok: Tok::Eof,
            col: end + 1,
            text: String::new(),
        });
        Ok(self.tokens)
    }

    fn string(&mut self, quote: char) -> Result<(), ExprError> {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(err("unterminated string starting", start + 1));
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    break;
                }
                Some('\\') => match self.peek_at(1) {
                    Some(e @ ('\'' | '"' | '\\')) => {
                        value.push(e);
                        self.pos += 2;
                    }
                    // Any other backslash is an ordinary character.
                    _ => {
                        value.push('\\');
                        self.pos += 1;
                    }
                },
                Some(c) => {
                    value.push(c);
                    self.pos += 1;
                }
            }
        }
        self.push(Tok::Lit(Lit::string(value)), start);
        Ok(())
    }

    fn digits(&mut self) -> usize {
        let from = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - from
    }

    fn number(&mut self) -> Result<(), ExprError> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        self.digits();
        if self.peek() == Some('.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(err("expected a digit after '.' in a number", self.pos + 1));
            }
        }
        if let Some(c) = self.peek() {
            if is_ident_char(c) || c == '.' {
                return Err(err(
                    format!("unexpected character {c:?} in a number"),
                    self.pos + 1,
                ));
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        let value = crate::ast::parse_number(&text).ok_or_else(|| {
            err(
                format!("number {} is out of range", self.text(start)),
                start + 1,
            )
        })?;
        self.push(Tok::Lit(Lit::Num(value)), start);
        Ok(())
    }

    fn name(&mut self) -> String {
        let from = self.pos;
        while self.peek().is_some_and(is_ident_char) {
            self.pos += 1;
        }
        self.chars[from..self.pos].iter().collect()
    }

    fn check_hyphen(&self) -> Result<(), ExprError> {
        if self.peek() == Some('-') && self.peek_at(1).is_some_and(is_ident_char) {
            return Err(err(
                "TaskRouter does not allow hyphens in names ('-')",
                self.pos + 1,
            ));
        }
        Ok(())
    }

    fn word(&mut self) -> Result<(), ExprError> {
        let start = self.pos;
        let root = self.name();
        let keyword = match root.to_ascii_lowercase().as_str() {
            "and" => Some(Tok::And),
            "or" => Some(Tok::Or),
            "not" => Some(Tok::Not),
            "in" => Some(Tok::Cmp(CmpOp::In)),
            "has" => Some(Tok::Cmp(CmpOp::Has)),
            "contains" => Some(Tok::Cmp(CmpOp::Contains)),
            "true" => Some(Tok::Lit(Lit::Bool(true))),
            "false" => Some(Tok::Lit(Lit::Bool(false))),
            "null" => Some(Tok::Lit(Lit::Null)),
            _ => None,
        };
        if let Some(tok) = keyword {
            self.push(tok, start);
            return Ok(());
        }
        self.check_hyphen()?;
        let mut rest = Vec::new();
        loop {
            match self.peek() {
                Some('.') => {
                    self.pos += 1;
                    if !self.peek().is_some_and(is_ident_char) {
                        return Err(err("expected a name after '.'", self.pos + 1));
                    }
                    rest.push(Seg::Key(self.name().into_boxed_str()));
                    self.check_hyphen()?;
                }
                Some('[') if self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => {
                    let open = self.pos;
                    self.pos += 1;
                    let from = self.pos;
                    self.digits();
                    if self.peek() != Some(']') {
                        let found = self
                            .peek()
                            .map_or_else(|| "end of input".to_owned(), |c| format!("{c:?}"));
                        return Err(err(
                            format!(
                                "expected ']' to close '[' from column {}, found {found}",
                                open + 1
                            ),
                            self.pos + 1,
                        ));
                    }
                    // An index too large for memory can never be in range: it reads as NULL.
                    let index = self.chars[from..self.pos]
                        .iter()
                        .try_fold(0usize, |n, c| {
                            n.checked_mul(10)?.checked_add(c.to_digit(10)? as usize)
                        })
                        .unwrap_or(usize::MAX);
                    self.pos += 1;
                    rest.push(Seg::Index(index));
                }
                _ => break,
            }
        }
        self.push(Tok::Ref(RefSyntax { root, rest }), start);
        Ok(())
    }
}
