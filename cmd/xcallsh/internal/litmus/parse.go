// Package litmus reads a test in the C litmus format of the Linux-kernel
// memory model (tools/memory-model/Documentation/litmus-tests.txt in the
// kernel: a name, an initial state, threads P0, P1, ... written with the
// kernel's own macros, and an exists clause), maps the kernel's macros onto
// one architecture's instructions as that architecture's
// asm/barrier.h, asm/cmpxchg.h and spinlock code do, and runs it under
// emu/memory's model of that architecture. What it prints reads like
// herd7's output. docs/memory.md describes the format it accepts and the
// mapping.
package litmus

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is a problem in a litmus file, at a line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Limits on what a test may hold: litmus tests are small, and a bigger one
// would only make the exploration hopeless.
const (
	MaxThreads = 16
	maxDepth   = 32  // nesting of expressions, blocks and conditions
	maxStmts   = 256 // instructions of a thread, as compiled
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tInt
	tPunct
)

type token struct {
	kind tokKind
	text string
	line int
}

// lex splits src into tokens. Comments are /* */, // and, outside braces
// and parentheses (where "(*" would be a dereference), herd's (* *).
func lex(file, src string) ([]token, error) {
	var toks []token
	line, depth := 1, 0
	puncts := []string{`/\`, `\/`, "==", "!=", "<=", ">=", "&&", "||", "(", ")", "{", "}", "[", "]",
		";", ",", "*", "=", "<", ">", "+", "-", "&", "|", "^", "!", "~", ":"}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
			continue
		case c == ' ' || c == '\t' || c == '\r':
			i++
			continue
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		case strings.HasPrefix(src[i:], "/*") || (depth == 0 && strings.HasPrefix(src[i:], "(*")):
			end := "*/"
			if c == '(' {
				end = "*)"
			}
			start := line
			j := strings.Index(src[i+2:], end)
			if j < 0 {
				return nil, &Error{file, start, "comment never ends"}
			}
			line += strings.Count(src[i:i+2+j], "\n")
			i += 2 + j + 2
			continue
		case len(toks) == 1 && toks[0].text == "C":
			// The test's name: anything up to white space (SB+mbs, 2+2W).
			j := i
			for j < len(src) && !strings.ContainsRune(" \t\r\n", rune(src[j])) {
				j++
			}
			toks = append(toks, token{tIdent, src[i:j], line})
			i = j
			continue
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			toks = append(toks, token{tIdent, src[i:j], line})
			i = j
			continue
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == 'x' || src[j] >= 'a' && src[j] <= 'f' || src[j] >= 'A' && src[j] <= 'F') {
				j++
			}
			toks = append(toks, token{tInt, src[i:j], line})
			i = j
			continue
		}
		found := false
		for _, p := range puncts {
			if strings.HasPrefix(src[i:], p) {
				switch p {
				case "(", "{", "[":
					depth++
				case ")", "}", "]":
					depth--
				}
				toks = append(toks, token{tPunct, p, line})
				i += len(p)
				found = true
				break
			}
		}
		if !found {
			return nil, &Error{file, line, fmt.Sprintf("unexpected character %q", c)}
		}
	}
	return append(toks, token{tEOF, "", line}), nil
}

// Test is a parsed litmus test.
type Test struct {
	File    string
	Name    string
	Init    []initItem
	Threads []*Thread
	Cond    *Cond
	// Locations are the registers and locations a locations [...]
	// clause adds to the final states shown, as atoms without a value.
	Locations []*Prop
	// Filter, from a filter clause, keeps only the executions whose
	// final state satisfies it (nil: all); the others are not counted.
	Filter *Prop
}

type initItem struct {
	name string
	val  int64
	ref  string // a pointer's initial value: the location it points to
	line int
}

// Thread is one Pn(...) { ... }.
type Thread struct {
	N      int
	Params []string
	Body   []*Stmt
	Line   int
}

type stmtKind uint8

const (
	sDecl   stmtKind = iota // int name [= X]
	sAssign                 // name = X
	sExpr                   // X, a call
	sIf                     // if (X) Then else Else
	sBlock                  // { Then }
	sStore                  // *Lhs = X, a plain store
)

// Stmt is one statement of a thread.
type Stmt struct {
	Kind       stmtKind
	Line       int
	Name       string
	X          *CExpr
	Lhs        *CExpr // sStore: the pointer stored through
	Then, Else []*Stmt
}

type exprKind uint8

const (
	cInt exprKind = iota
	cIdent
	cDeref // *A (Name set when A is a name)
	cAddr  // &Name
	cUnary
	cBinary
	cCall
)

// CExpr is a C expression.
type CExpr struct {
	Kind exprKind
	Line int
	Op   string // cUnary, cBinary
	Name string // cIdent, cDeref, cCall
	Val  int64
	A, B *CExpr
	Args []*CExpr
}

// Cond is the final condition: exists, ~exists or forall, over a
// proposition.
type Cond struct {
	Quant string // "exists", "~exists", "forall"
	P     *Prop
	Line  int
}

// Prop is a proposition on the final state.
type Prop struct {
	Op     string // "atom", "/\\", "\\/", "~", "true", "false"
	A, B   *Prop
	Thread int // an atom's thread; -1 for a location
	Name   string
	Val    int64
	Ref    string // the value is a pointer to this location
	Line   int
}

type parser struct {
	file  string
	toks  []token
	pos   int
	depth int
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) errf(line int, format string, args ...any) error {
	return &Error{p.file, line, fmt.Sprintf(format, args...)}
}

func describe(t token) string {
	if t.kind == tEOF {
		return "the end of the file"
	}
	return strconv.Quote(t.text)
}

func (p *parser) is(text string) bool {
	t := p.peek()
	return t.kind != tEOF && t.kind != tInt && t.text == text
}

func (p *parser) expect(text string) (token, error) {
	t := p.next()
	if t.kind == tEOF || t.kind == tInt || t.text != text {
		return t, p.errf(t.line, "expected %q, found %s", text, describe(t))
	}
	return t, nil
}

func (p *parser) ident(what string) (token, error) {
	t := p.next()
	if t.kind != tIdent {
		return t, p.errf(t.line, "expected %s, found %s", what, describe(t))
	}
	return t, nil
}

func (p *parser) integer() (int64, error) {
	t := p.next()
	neg := false
	if t.kind == tPunct && t.text == "-" {
		neg, t = true, p.next()
	}
	if t.kind != tInt {
		return 0, p.errf(t.line, "expected an integer, found %s", describe(t))
	}
	v, err := strconv.ParseInt(t.text, 0, 64)
	if err != nil {
		return 0, p.errf(t.line, "bad integer %q", t.text)
	}
	if neg {
		v = -v
	}
	return v, nil
}

// enter counts one level of nesting.
func (p *parser) enter(line int) error {
	p.depth++
	if p.depth > maxDepth {
		return p.errf(line, "nested more than %d deep", maxDepth)
	}
	return nil
}

// Parse reads the litmus test src, from file.
func Parse(file string, src []byte) (*Test, error) {
	toks, err := lex(file, string(src))
	if err != nil {
		return nil, err
	}
	p := &parser{file: file, toks: toks}
	t := &Test{File: file}
	if tok := p.next(); tok.kind != tIdent || tok.text != "C" {
		return nil, p.errf(tok.line, "a C litmus test starts with \"C NAME\", found %s", describe(tok))
	}
	name, err := p.ident("the test's name")
	if err != nil {
		return nil, err
	}
	t.Name = name.text
	if p.is("{") {
		if err := p.initBlock(t); err != nil {
			return nil, err
		}
	}
	for p.peek().kind == tIdent && len(p.peek().text) > 1 && p.peek().text[0] == 'P' {
		th, err := p.thread()
		if err != nil {
			return nil, err
		}
		if th.N != len(t.Threads) {
			return nil, p.errf(th.Line, "thread P%d where P%d was expected", th.N, len(t.Threads))
		}
		if len(t.Threads) == MaxThreads {
			return nil, p.errf(th.Line, "more than %d threads", MaxThreads)
		}
		t.Threads = append(t.Threads, th)
	}
	if len(t.Threads) == 0 {
		return nil, p.errf(p.peek().line, "expected a thread P0(...) { ... }, found %s", describe(p.peek()))
	}
	if p.is("locations") {
		if t.Locations, err = p.locations(); err != nil {
			return nil, err
		}
	}
	if p.is("filter") {
		p.next()
		if t.Filter, err = p.prop(); err != nil {
			return nil, err
		}
	}
	if t.Cond, err = p.cond(); err != nil {
		return nil, err
	}
	if tok := p.peek(); tok.kind != tEOF {
		return nil, p.errf(tok.line, "unexpected %s after the condition", describe(tok))
	}
	return t, nil
}

// initBlock is { x=1; int y = 2; spinlock_t s; int z; }.
func (p *parser) initBlock(t *Test) error {
	p.next()
	for !p.is("}") {
		// Optional type words, then the name.
		var words []token
		for p.peek().kind == tIdent {
			words = append(words, p.next())
		}
		for p.is("*") {
			p.next()
			for p.peek().kind == tIdent {
				words = append(words, p.next())
			}
		}
		if len(words) == 0 {
			tok := p.peek()
			if tok.kind == tInt && p.toks[p.pos+1].text == ":" {
				return p.errf(tok.line, "initial register values are not supported (registers start at 0)")
			}
			return p.errf(tok.line, "expected a location in the initial state, found %s", describe(tok))
		}
		name := words[len(words)-1]
		item := initItem{name: name.text, line: name.line}
		if p.is("=") {
			p.next()
			if p.is("&") {
				p.next()
			}
			if p.is("ATOMIC_INIT") {
				// atomic_t v = ATOMIC_INIT(n);
				p.next()
				if _, err := p.expect("("); err != nil {
					return err
				}
				v, err := p.integer()
				if err != nil {
					return err
				}
				item.val = v
				if _, err := p.expect(")"); err != nil {
					return err
				}
			} else if p.peek().kind == tIdent {
				item.ref = p.next().text
			} else {
				v, err := p.integer()
				if err != nil {
					return err
				}
				item.val = v
			}
		}
		if _, err := p.expect(";"); err != nil {
			return err
		}
		for _, old := range t.Init {
			if old.name == item.name {
				return p.errf(item.line, "%s is initialised twice", item.name)
			}
		}
		t.Init = append(t.Init, item)
	}
	p.next()
	return nil
}

// thread is Pn(int *x, spinlock_t *s) { body }.
func (p *parser) thread() (*Thread, error) {
	tok := p.next()
	n, err := strconv.Atoi(tok.text[1:])
	if err != nil || n < 0 || strconv.Itoa(n) != tok.text[1:] {
		return nil, p.errf(tok.line, "expected a thread P0, P1, ..., found %q", tok.text)
	}
	th := &Thread{N: n, Line: tok.line}
	if _, err := p.expect("("); err != nil {
		return nil, err
	}
	for !p.is(")") {
		if len(th.Params) > 0 {
			if _, err := p.expect(","); err != nil {
				return nil, err
			}
		}
		var words []token
		for p.peek().kind == tIdent || p.is("*") {
			words = append(words, p.next())
		}
		if len(words) < 2 || words[len(words)-1].kind != tIdent {
			return nil, p.errf(p.peek().line, "expected a parameter such as \"int *x\", found %s", describe(p.peek()))
		}
		th.Params = append(th.Params, words[len(words)-1].text)
	}
	p.next()
	if th.Body, err = p.block(); err != nil {
		return nil, err
	}
	return th, nil
}

// block is { statements }.
func (p *parser) block() ([]*Stmt, error) {
	open, err := p.expect("{")
	if err != nil {
		return nil, err
	}
	if err := p.enter(open.line); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	var body []*Stmt
	for !p.is("}") {
		if p.peek().kind == tEOF {
			return nil, p.errf(open.line, "the block opened here never closes")
		}
		s, err := p.stmt()
		if err != nil {
			return nil, err
		}
		if s != nil {
			body = append(body, s...)
		}
	}
	p.next()
	return body, nil
}

// stmt is one statement; a declaration of several names gives several.
func (p *parser) stmt() ([]*Stmt, error) {
	tok := p.peek()
	switch {
	case p.is(";"):
		p.next()
		return nil, nil
	case p.is("{"):
		body, err := p.block()
		return []*Stmt{{Kind: sBlock, Line: tok.line, Then: body}}, err
	case p.is("(") && p.toks[p.pos+1].text == "void" && p.toks[p.pos+2].text == ")":
		// (void)call(...); discards the value.
		p.pos += 3
		return p.stmt()
	case p.is("if"):
		p.next()
		if _, err := p.expect("("); err != nil {
			return nil, err
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(")"); err != nil {
			return nil, err
		}
		s := &Stmt{Kind: sIf, Line: tok.line, X: x}
		if err := p.enter(tok.line); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		if s.Then, err = p.stmt(); err != nil {
			return nil, err
		}
		if p.is("else") {
			p.next()
			if s.Else, err = p.stmt(); err != nil {
				return nil, err
			}
		}
		return []*Stmt{s}, nil
	case p.is("int") || p.is("long") || p.is("unsigned"):
		for p.is("int") || p.is("long") || p.is("unsigned") {
			p.next()
		}
		var out []*Stmt
		for {
			for p.is("*") {
				p.next()
			}
			name, err := p.ident("a register name")
			if err != nil {
				return nil, err
			}
			s := &Stmt{Kind: sDecl, Line: name.line, Name: name.text}
			if p.is("=") {
				p.next()
				if s.X, err = p.expr(); err != nil {
					return nil, err
				}
			}
			out = append(out, s)
			if !p.is(",") {
				break
			}
			p.next()
		}
		_, err := p.expect(";")
		return out, err
	case tok.kind == tIdent && p.toks[p.pos+1].text == "=" && p.toks[p.pos+1].kind == tPunct:
		p.next()
		p.next()
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(";"); err != nil {
			return nil, err
		}
		return []*Stmt{{Kind: sAssign, Line: tok.line, Name: tok.text, X: x}}, nil
	case p.is("*"):
		// A plain store: *p = X.
		lhs, err := p.unary()
		if err != nil {
			return nil, err
		}
		if lhs.Kind != cDeref {
			return nil, p.errf(tok.line, "a statement is a declaration, an assignment, a call or an if")
		}
		if _, err := p.expect("="); err != nil {
			return nil, err
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(";"); err != nil {
			return nil, err
		}
		return []*Stmt{{Kind: sStore, Line: tok.line, Lhs: lhs.A, X: x}}, nil
	}
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	if x.Kind != cCall {
		return nil, p.errf(tok.line, "a statement is a declaration, an assignment, a call or an if")
	}
	if _, err := p.expect(";"); err != nil {
		return nil, err
	}
	return []*Stmt{{Kind: sExpr, Line: tok.line, X: x}}, nil
}

var precedence = map[string]int{"||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6,
	"<": 7, "<=": 7, ">": 7, ">=": 7, "+": 9, "-": 9, "*": 10}

func (p *parser) expr() (*CExpr, error) { return p.binary(1) }

func (p *parser) binary(min int) (*CExpr, error) {
	a, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		prec, ok := precedence[t.text]
		if t.kind != tPunct || !ok || prec < min {
			return a, nil
		}
		p.next()
		if err := p.enter(t.line); err != nil {
			return nil, err
		}
		b, err := p.binary(prec + 1)
		p.depth--
		if err != nil {
			return nil, err
		}
		a = &CExpr{Kind: cBinary, Line: t.line, Op: t.text, A: a, B: b}
	}
}

func (p *parser) unary() (*CExpr, error) {
	t := p.next()
	if err := p.enter(t.line); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	switch {
	case t.kind == tInt:
		v, err := strconv.ParseInt(t.text, 0, 64)
		if err != nil {
			return nil, p.errf(t.line, "bad integer %q", t.text)
		}
		return &CExpr{Kind: cInt, Line: t.line, Val: v}, nil
	case t.kind == tIdent:
		if !p.is("(") {
			return &CExpr{Kind: cIdent, Line: t.line, Name: t.text}, nil
		}
		p.next()
		call := &CExpr{Kind: cCall, Line: t.line, Name: t.text}
		for !p.is(")") {
			if len(call.Args) > 0 {
				if _, err := p.expect(","); err != nil {
					return nil, err
				}
			}
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			call.Args = append(call.Args, a)
		}
		p.next()
		return call, nil
	case t.kind == tPunct && t.text == "(":
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		_, err = p.expect(")")
		return x, err
	case t.kind == tPunct && t.text == "*":
		a, err := p.unary()
		if err != nil {
			return nil, err
		}
		x := &CExpr{Kind: cDeref, Line: t.line, A: a}
		if a.Kind == cIdent {
			x.Name = a.Name
		}
		return x, nil
	case t.kind == tPunct && t.text == "&":
		name, err := p.ident("a location after &")
		if err != nil {
			return nil, err
		}
		return &CExpr{Kind: cAddr, Line: t.line, Name: name.text}, nil
	case t.kind == tPunct && (t.text == "!" || t.text == "-" || t.text == "~"):
		a, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &CExpr{Kind: cUnary, Line: t.line, Op: t.text, A: a}, nil
	}
	return nil, p.errf(t.line, "expected an expression, found %s", describe(t))
}

// cond is exists/~exists/forall followed by a proposition.
func (p *parser) cond() (*Cond, error) {
	t := p.next()
	c := &Cond{Line: t.line}
	switch {
	case t.kind == tIdent && (t.text == "exists" || t.text == "forall"):
		c.Quant = t.text
	case t.kind == tPunct && t.text == "~" && p.is("exists"):
		p.next()
		c.Quant = "~exists"
	default:
		return nil, p.errf(t.line, "expected the condition (exists, ~exists or forall), found %s", describe(t))
	}
	var err error
	c.P, err = p.prop()
	return c, err
}

// locations is locations [x; 0:r0; ...], before the condition.
func (p *parser) locations() ([]*Prop, error) {
	p.next()
	if _, err := p.expect("["); err != nil {
		return nil, err
	}
	var out []*Prop
	for !p.is("]") {
		t := p.next()
		switch {
		case t.kind == tInt:
			a, err := p.threadReg(t)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		case t.kind == tIdent:
			out = append(out, &Prop{Op: "atom", Thread: -1, Name: t.text, Line: t.line})
		default:
			return nil, p.errf(t.line, "expected a location or N:register in locations [...], found %s", describe(t))
		}
		if !p.is("]") {
			if _, err := p.expect(";"); err != nil {
				return nil, err
			}
		}
	}
	p.next()
	return out, nil
}

func (p *parser) prop() (*Prop, error) {
	a, err := p.conj()
	if err != nil {
		return nil, err
	}
	for p.is(`\/`) {
		t := p.next()
		b, err := p.conj()
		if err != nil {
			return nil, err
		}
		a = &Prop{Op: `\/`, A: a, B: b, Line: t.line}
	}
	return a, nil
}

func (p *parser) conj() (*Prop, error) {
	a, err := p.propUnary()
	if err != nil {
		return nil, err
	}
	for p.is(`/\`) {
		t := p.next()
		b, err := p.propUnary()
		if err != nil {
			return nil, err
		}
		a = &Prop{Op: `/\`, A: a, B: b, Line: t.line}
	}
	return a, nil
}

func (p *parser) propUnary() (*Prop, error) {
	t := p.next()
	if err := p.enter(t.line); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	switch {
	case t.kind == tPunct && t.text == "~":
		a, err := p.propUnary()
		return &Prop{Op: "~", A: a, Line: t.line}, err
	case t.kind == tPunct && t.text == "(":
		a, err := p.prop()
		if err != nil {
			return nil, err
		}
		_, err = p.expect(")")
		return a, err
	case t.kind == tIdent && (t.text == "true" || t.text == "false"):
		return &Prop{Op: t.text, Line: t.line}, nil
	case t.kind == tInt:
		a, err := p.threadReg(t)
		if err != nil {
			return nil, err
		}
		return p.atom(a)
	case t.kind == tIdent:
		return p.atom(&Prop{Op: "atom", Thread: -1, Name: t.text, Line: t.line})
	}
	return nil, p.errf(t.line, "expected a condition such as 0:r0=1 or x=2, found %s", describe(t))
}

func (p *parser) atom(a *Prop) (*Prop, error) {
	if _, err := p.expect("="); err != nil {
		return nil, err
	}
	if p.peek().kind == tIdent {
		a.Ref = p.next().text
		return a, nil
	}
	v, err := p.integer()
	a.Val = v
	return a, err
}

// String is the proposition as herd7 prints it.
func (q *Prop) String() string {
	switch q.Op {
	case "atom":
		v := strconv.FormatInt(q.Val, 10)
		if q.Ref != "" {
			v = q.Ref
		}
		if q.Thread < 0 {
			return q.Name + "=" + v
		}
		return fmt.Sprintf("%d:%s=%s", q.Thread, q.Name, v)
	case "true", "false":
		return q.Op
	case "~":
		return "~" + q.A.paren()
	}
	return q.A.side(q.Op) + " " + q.Op + " " + q.B.side(q.Op)
}

func (q *Prop) paren() string {
	if q.Op == "atom" || q.Op == "true" || q.Op == "false" || q.Op == "~" {
		return q.String()
	}
	return "(" + q.String() + ")"
}

func (q *Prop) side(op string) string {
	if q.Op == op {
		return q.String()
	}
	return q.paren()
}

// String is the condition as herd7 prints it.
func (c *Cond) String() string { return c.Quant + " (" + c.P.String() + ")" }

// threadReg reads the rest of N:register after its thread number t, as
// the locations clause and the condition name a register.
func (p *parser) threadReg(t token) (*Prop, error) {
	n, err := strconv.Atoi(t.text)
	if err != nil || n < 0 {
		return nil, p.errf(t.line, "bad thread number %q", t.text)
	}
	if _, err := p.expect(":"); err != nil {
		return nil, err
	}
	reg, err := p.ident("a register")
	if err != nil {
		return nil, err
	}
	return &Prop{Op: "atom", Thread: n, Name: reg.text, Line: t.line}, nil
}
