//! Recursive descent over the token list. Precedence, loosest first: OR, AND, NOT, comparison.
//! AND and OR chains are collected into flat lists, so only parentheses and NOT nest, and they
//! are limited to [`MAX_DEPTH`] levels: parsing, evaluating and dropping an expression never
//! recurse deeper than that.

use crate::ast::{CmpOp, Lit, Node, Operand, Ref};
use crate::error::ExprError;
use crate::lexer::{err, RefSyntax, Tok, Token};

/// Deepest nesting of parentheses and NOT accepted.
pub const MAX_DEPTH: usize = 64;

/// Gives a reference its meaning in a context, or refuses it.
pub(crate) trait Resolver {
    fn resolve(&mut self, reference: RefSyntax, token: &Token) -> Result<Ref, ExprError>;
}

pub(crate) fn parse(tokens: Vec<Token>, resolver: &mut dyn Resolver) -> Result<Node, ExprError> {
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        resolver,
    };
    let node = parser.or_expr()?;
    let token = parser.peek();
    if token.tok != Tok::Eof {
        let message = match token.tok {
            Tok::RParen => "unexpected ')' with no '(' to close".to_owned(),
            _ => format!(
                "expected AND, OR or the end of the expression, found {}",
                token.describe()
            ),
        };
        return Err(err(message, token.col));
    }
    Ok(node)
}

struct Parser<'r> {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    resolver: &'r mut dyn Resolver,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // The lexer always ends the list with Eof, and the parser never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if token.tok != Tok::Eof {
            self.pos += 1;
        }
        token
    }

    fn previous(&self) -> Option<&Token> {
        self.pos.checked_sub(1).and_then(|i| self.tokens.get(i))
    }

    fn enter(&mut self, col: usize) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(
                format!("expression nested deeper than {MAX_DEPTH} levels of parentheses and NOT"),
                col,
            ));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Node, ExprError> {
        let first = self.and_expr()?;
        if self.peek().tok != Tok::Or {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek().tok == Tok::Or {
            self.bump();
            items.push(self.and_expr()?);
        }
        Ok(Node::Or(items))
    }

    fn and_expr(&mut self) -> Result<Node, ExprError> {
        let first = self.not_expr()?;
        if self.peek().tok != Tok::And {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek().tok == Tok::And {
            self.bump();
            items.push(self.not_expr()?);
        }
        Ok(Node::And(items))
    }

    fn not_expr(&mut self) -> Result<Node, ExprError> {
        if self.peek().tok != Tok::Not {
            return self.primary();
        }
        let not = self.bump();
        self.enter(not.col)?;
        let inner = self.not_expr()?;
        self.depth -= 1;
        Ok(Node::Not(Box::new(inner)))
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        if self.peek().tok != Tok::LParen {
            return self.comparison();
        }
        let open = self.bump();
        self.enter(open.col)?;
        let inner = self.or_expr()?;
        let close = self.peek();
        if close.tok != Tok::RParen {
            return Err(err(
                format!(
                    "expected ')' to close '(' from column {}, found {}",
                    open.col,
                    close.describe()
                ),
                close.col,
            ));
        }
        self.bump();
        self.depth -= 1;
        Ok(inner)
    }

    fn comparison(&mut self) -> Result<Node, ExprError> {
        let (lhs, lhs_token) = self.operand()?;
        let op_token = self.bump();
        let op = match op_token.tok {
            Tok::Cmp(op) => op,
            Tok::Not => {
                let next = self.bump();
                match next.tok {
                    Tok::Cmp(CmpOp::In) => CmpOp::NotIn,
                    Tok::Cmp(op @ (CmpOp::Has | CmpOp::Contains)) => {
                        let name = if op == CmpOp::Has { "HAS" } else { "CONTAINS" };
                        return Err(err(
                            format!("NOT {name} is not supported; write NOT (x {name} y) instead"),
                            op_token.col,
                        ));
                    }
                    _ => {
                        return Err(err(
                            format!("expected IN after NOT, found {}", next.describe()),
                            next.col,
                        ))
                    }
                }
            }
            _ => {
                let what = match lhs_token.tok {
                    Tok::LBracket => "the array".to_owned(),
                    _ => lhs_token.describe(),
                };
                return Err(err(
                    format!("expected an operator after {what}"),
                    lhs_token.col,
                ));
            }
        };
        let (rhs, _) = self.operand()?;
        Ok(Node::Cmp { op, lhs, rhs })
    }

    fn expected_value(&self, found: &Token) -> ExprError {
        let message = match self.previous() {
            Some(prev) if found.tok == Tok::Eof => {
                format!("expected a value after {}", prev.describe())
            }
            Some(prev) => {
                format!(
                    "expected a value after {}, found {}",
                    prev.describe(),
                    found.describe()
                )
            }
            None if found.tok == Tok::Eof => {
                "expected an expression, found end of input".to_owned()
            }
            None => format!("expected a value, found {}", found.describe()),
        };
        err(message, found.col)
    }

    fn operand(&mut self) -> Result<(Operand, Token), ExprError> {
        let token = self.peek().clone();
        let operand = match &token.tok {
            Tok::Lit(lit) => {
                let lit = lit.clone();
                self.bump();
                Operand::Lit(lit)
            }
            Tok::Ref(reference) => {
                let reference = reference.clone();
                self.bump();
                Operand::Ref(self.resolver.resolve(reference, &token)?)
            }
            Tok::LBracket => {
                self.bump();
                Operand::Array(self.array_rest(&token)?)
            }
            _ => return Err(self.expected_value(&token)),
        };
        Ok((operand, token))
    }

    /// The elements and closing `]` of an array literal whose `[` was `open`.
    fn array_rest(&mut self, open: &Token) -> Result<Box<[Lit]>, ExprError> {
        let mut items = Vec::new();
        if self.peek().tok == Tok::RBracket {
            self.bump();
            return Ok(items.into_boxed_slice());
        }
        loop {
            let token = self.bump();
            match token.tok {
                Tok::Lit(lit) => items.push(lit),
                _ => {
                    return Err(err(
                        format!(
                            "expected a string, number, true, false or null in the array, found {}",
                            token.describe()
                        ),
                        token.col,
                    ))
                }
            }
            let next = self.bump();
            match next.tok {
                Tok::Comma => {}
                Tok::RBracket => return Ok(items.into_boxed_slice()),
                _ => {
                    return Err(err(
                        format!(
                            "expected ',' or ']' to close '[' from column {}, found {}",
                            open.col,
                            next.describe()
                        ),
                        next.col,
                    ))
                }
            }
        }
    }
}
