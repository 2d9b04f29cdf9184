package luabind

// Compiling untrusted source text. gopher-lua's parser is table-driven
// (goyacc) and survives any nesting, but its compiler recurses over the
// syntax tree: a chunk nested a million levels deep (a million `not`, a
// long `a.a.a...`) overflows the Go stack and kills the process, which no
// recover() can stop. Every chunk is therefore parsed, its tree's depth
// checked with an explicit stack, and only then compiled: Session.Exec,
// Compile, and the scripts' own load and loadstring.

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// MaxSyntaxLevels bounds how deeply statements and expressions may nest
// in a chunk: every statement and every expression is one level, function
// bodies included. Lua 5.1 bounds its parser's nesting by LUAI_MAXCCALLS,
// 200, with the same message.
const MaxSyntaxLevels = 200

// MaxLoadSize bounds the source text load and loadstring accept (bytes).
// The scripts xcallsh ships are a few KiB; parsing takes about half a
// second per MiB of pathological text, so 1 MiB keeps a hostile call short.
const MaxLoadSize = 1 << 20

// compileChunk parses src, checks its nesting and compiles it. Errors read
// like Lua's: "name:line: message".
func compileChunk(name, src string) (*lua.FunctionProto, error) {
	if line, ok := prescan(name, src); !ok {
		return nil, &ScriptError{Msg: fmt.Sprintf("%s:%d: chunk has too many syntax levels", name, line)}
	}
	chunk, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		return nil, &ScriptError{Msg: syntaxMessage(name, src, err)}
	}
	if line, ok := checkLevels(chunk); !ok {
		return nil, &ScriptError{Msg: fmt.Sprintf("%s:%d: chunk has too many syntax levels", name, line)}
	}
	proto, err := lua.Compile(chunk, name)
	if err != nil {
		return nil, &ScriptError{Msg: compileMessage(name, chunk, err)}
	}
	return proto, nil
}

// syntaxMessage turns gopher-lua's "s.lua line:2(column:7) near 'then':
// syntax error" into Lua's "s.lua:2: syntax error near 'then'".
func syntaxMessage(name, src string, err error) string {
	pe, ok := err.(*parse.Error)
	if !ok {
		return fmt.Sprintf("%s: %v", name, err)
	}
	line, near := pe.Pos.Line, "'"+shortToken(pe.Token)+"'"
	if line == parse.EOF {
		line, near = 1+strings.Count(src, "\n"), "'<eof>'"
	}
	return fmt.Sprintf("%s:%d: %s near %s", name, line, pe.Message, near)
}

// shortToken cuts a token quoted in a message (an unterminated string can
// be the rest of the file) to its first line and 40 bytes.
func shortToken(tok string) string {
	if i := strings.IndexAny(tok, "\r\n"); i >= 0 {
		tok = tok[:i] + "..."
	}
	if len(tok) > 40 {
		tok = tok[:40] + "..."
	}
	return tok
}

// compileMessage turns gopher-lua's "compile error near line(0) s.lua:
// register overflow" into "s.lua:N: function or expression too complex"
// (Lua 5.1's words for running out of registers). gopher-lua reports a
// register overflow at the line the function begins, 0 for the main chunk:
// the line is then the first top-level statement that nests deepest, the
// likeliest culprit.
func compileMessage(name string, chunk []ast.Stmt, err error) string {
	ce, ok := err.(*lua.CompileError)
	if !ok {
		return fmt.Sprintf("%s: %v", name, err)
	}
	msg, line := ce.Message, ce.Line
	if strings.HasPrefix(msg, "register overflow") || msg == "too many local variables" {
		msg = "function or expression too complex"
	}
	if line <= 0 {
		line = deepestStmtLine(chunk)
	}
	return fmt.Sprintf("%s:%d: %s", name, line, msg)
}

// deepestStmtLine is the line of the first statement of chunk whose tree
// is deepest (1 for an empty chunk).
func deepestStmtLine(chunk []ast.Stmt) int {
	line, best := 1, -1
	for _, st := range chunk {
		if d := treeDepth(st); d > best {
			line, best = st.Line(), d
		}
	}
	return line
}

// treeDepth is the depth of the tree under n (which checkLevels has
// bounded, so counting is all that happens here).
func treeDepth(n any) int {
	type item struct {
		n any
		d int
	}
	max := 0
	stack := []item{{n, 1}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.d > max {
			max = it.d
		}
		for _, c := range children(it.n) {
			stack = append(stack, item{c, it.d + 1})
		}
	}
	return max
}

// checkLevels walks chunk with an explicit stack and reports the line of
// the first node (in source order of the walk) nested deeper than
// MaxSyntaxLevels, and false; or true if there is none.
func checkLevels(chunk []ast.Stmt) (int, bool) {
	type item struct {
		n any
		d int
	}
	stack := make([]item, 0, 64)
	for i := len(chunk) - 1; i >= 0; i-- {
		stack = append(stack, item{chunk[i], 1})
	}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.d > MaxSyntaxLevels {
			return nodeLine(it.n), false
		}
		kids := children(it.n)
		for i := len(kids) - 1; i >= 0; i-- {
			stack = append(stack, item{kids[i], it.d + 1})
		}
	}
	return 0, true
}

func nodeLine(n any) int {
	if p, ok := n.(ast.PositionHolder); ok && p.Line() > 0 {
		return p.Line()
	}
	return 1
}

// children lists the statements and expressions directly under n, in
// source order. A table field is not a level of its own: its key and value
// are the table's children.
func children(n any) []any {
	var out []any
	exprs := func(es ...ast.Expr) {
		for _, e := range es {
			if e != nil {
				out = append(out, e)
			}
		}
	}
	stmts := func(ss []ast.Stmt) {
		for _, s := range ss {
			out = append(out, s)
		}
	}
	switch n := n.(type) {
	case *ast.AttrGetExpr:
		exprs(n.Object, n.Key)
	case *ast.TableExpr:
		for _, f := range n.Fields {
			exprs(f.Key, f.Value)
		}
	case *ast.FuncCallExpr:
		exprs(n.Func, n.Receiver)
		exprs(n.Args...)
	case *ast.LogicalOpExpr:
		exprs(n.Lhs, n.Rhs)
	case *ast.RelationalOpExpr:
		exprs(n.Lhs, n.Rhs)
	case *ast.StringConcatOpExpr:
		exprs(n.Lhs, n.Rhs)
	case *ast.ArithmeticOpExpr:
		exprs(n.Lhs, n.Rhs)
	case *ast.UnaryMinusOpExpr:
		exprs(n.Expr)
	case *ast.UnaryNotOpExpr:
		exprs(n.Expr)
	case *ast.UnaryLenOpExpr:
		exprs(n.Expr)
	case *ast.FunctionExpr:
		stmts(n.Stmts)
	case *ast.AssignStmt:
		exprs(n.Lhs...)
		exprs(n.Rhs...)
	case *ast.LocalAssignStmt:
		exprs(n.Exprs...)
	case *ast.FuncCallStmt:
		exprs(n.Expr)
	case *ast.DoBlockStmt:
		stmts(n.Stmts)
	case *ast.WhileStmt:
		exprs(n.Condition)
		stmts(n.Stmts)
	case *ast.RepeatStmt:
		stmts(n.Stmts)
		exprs(n.Condition)
	case *ast.IfStmt:
		exprs(n.Condition)
		stmts(n.Then)
		stmts(n.Else)
	case *ast.NumberForStmt:
		exprs(n.Init, n.Limit, n.Step)
		stmts(n.Stmts)
	case *ast.GenericForStmt:
		exprs(n.Exprs...)
		stmts(n.Stmts)
	case *ast.FuncDefStmt:
		if n.Name != nil {
			exprs(n.Name.Func, n.Name.Receiver)
		}
		if n.Func != nil {
			out = append(out, n.Func)
		}
	case *ast.ReturnStmt:
		exprs(n.Exprs...)
	}
	return out
}

// load compiles src in the session's environment (the globals), as
// loadstring does.
func (s *Session) load(name, src string) (*lua.LFunction, error) {
	proto, err := compileChunk(name, src)
	if err != nil {
		return nil, err
	}
	return s.L.NewFunctionFromProto(proto), nil
}

// loadString is the scripts' loadstring(s [, chunkname]): like Lua's, it
// returns the function, or nil and the message.
func (s *Session) loadString(L *lua.LState) int {
	src := L.CheckString(1)
	name := L.OptString(2, "<string>")
	return s.loadResult(L, chunkID(name), src)
}

// loadFunc is the scripts' load(func [, chunkname]): it calls func for
// pieces of source until it returns nil or "", at most MaxLoadSize bytes.
func (s *Session) loadFunc(L *lua.LState) int {
	fn := L.CheckFunction(1)
	name := L.OptString(2, "?")
	var b strings.Builder
	for {
		L.Push(fn)
		L.Call(0, 1)
		ret := L.Get(-1)
		L.Pop(1)
		if ret == lua.LNil {
			break
		}
		if !lua.LVCanConvToString(ret) {
			L.Push(lua.LNil)
			L.Push(lua.LString("reader function must return a string"))
			return 2
		}
		piece := lua.LVAsString(ret)
		if piece == "" {
			break
		}
		if b.Len()+len(piece) > MaxLoadSize {
			L.Push(lua.LNil)
			L.Push(lua.LString(tooBigToLoad(b.Len() + len(piece))))
			return 2
		}
		b.WriteString(piece)
	}
	return s.loadResult(L, chunkID(name), b.String())
}

func tooBigToLoad(n int) string {
	return fmt.Sprintf("chunk of %d bytes exceeds the limit of %d MiB for load", n, MaxLoadSize>>20)
}

func (s *Session) loadResult(L *lua.LState, name, src string) int {
	if len(src) > MaxLoadSize {
		L.Push(lua.LNil)
		L.Push(lua.LString(tooBigToLoad(len(src))))
		return 2
	}
	fn, err := s.load(name, src)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(fn)
	return 1
}

// chunkID is the name a loaded chunk's messages carry: the name given to
// load or loadstring as it is (xcallsh's own tools pass file names), "=" or
// "@" before it dropped as Lua 5.1 does.
func chunkID(name string) string {
	if strings.HasPrefix(name, "=") || strings.HasPrefix(name, "@") {
		return name[1:]
	}
	return name
}

// maxPendingLevels bounds prescan's count. gopher-lua's parser keeps a
// stack of about 400 bytes per pending symbol: 2 MB of "1^1^1..." made it
// hold 900 MB before the tree could be checked. The count exceeds the
// tree's depth by at most a small factor for any chunk the tree check
// accepts (each pending operator or bracket is a level of the tree, or
// two operators make one, or it is a parenthesis, which Lua 5.1 counts as
// a level too), so 1000 refuses nothing MaxSyntaxLevels would accept but
// a few hundred bare parentheses.
const maxPendingLevels = 1000

// prescan bounds the nesting gopher-lua's parser would stack up, before
// it runs: it counts, on the tokens, the open brackets and blocks and, in
// each, the unary and right-associative operators (not, #, unary -, ^,
// ..) since the last comma, assignment or keyword. It reports the line of
// the token where the count passes maxPendingLevels. A chunk the scanner
// cannot read is left to the parser, which says why.
func prescan(name, src string) (int, bool) {
	sc := parse.NewScanner(strings.NewReader(src), name)
	lx := &parse.Lexer{}
	frames := []int{0} // per open bracket or block: its pending operators
	level := 1
	operand := false // the previous token ends an operand: '-' is binary
	for {
		tok, err := sc.Scan(lx)
		if err != nil || tok.Type == parse.EOF || tok.Type < 0 {
			return 0, true
		}
		lx.PrevTokenType = tok.Type
		wasOperand := operand
		operand = false
		top := len(frames) - 1
		switch tok.Type {
		case '(', '[', '{', parse.TFunction, parse.TIf, parse.TDo, parse.TRepeat:
			frames = append(frames, 0)
			level++
		case ')', ']', '}', parse.TEnd, parse.TUntil:
			operand = tok.Type != parse.TUntil
			if top > 0 {
				level -= 1 + frames[top]
				frames = frames[:top]
			}
		case parse.TNot, '#', '^', parse.T2Comma:
			frames[top]++
			level++
		case '-':
			if !wasOperand {
				frames[top]++
				level++
			}
		case ',', ';', '=', parse.TLocal, parse.TReturn, parse.TThen, parse.TElse, parse.TElseIf,
			parse.TIn, parse.TWhile, parse.TFor, parse.TBreak, parse.TGoto:
			level -= frames[top]
			frames[top] = 0
		case parse.TIdent, parse.TNumber, parse.TString, parse.TTrue, parse.TFalse, parse.TNil, parse.T3Comma:
			operand = true
		}
		if level > maxPendingLevels {
			return tok.Pos.Line, false
		}
	}
}
