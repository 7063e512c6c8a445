package chsink

import (
	"fmt"
	"strings"

	"github.com/ClickHouse/ch-go/proto"
)

// The statements the sink understands, parsed from the query text as ClickHouse's lexer
// splits it (quoted identifiers, string literals, comments): enough to learn tables from
// their CREATE TABLE and to resolve an INSERT's columns, nothing that evaluates expressions.

type tokKind int

const (
	tokEOF    tokKind = iota
	tokWord           // a bare identifier or keyword
	tokQuoted         // `name` or "name", unescaped
	tokString         // 'literal', unescaped
	tokNumber
	tokPunct
)

type token struct {
	kind tokKind
	text string
}

func (t token) is(word string) bool { return t.kind == tokWord && strings.EqualFold(t.text, word) }

func (t token) punct(p string) bool { return t.kind == tokPunct && t.text == p }

func isWordStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isWordByte(c byte) bool { return isWordStart(c) || c >= '0' && c <= '9' || c == '$' }

func syntaxError(format string, args ...any) *Error {
	return &Error{Code: proto.ErrSyntaxError, Message: fmt.Sprintf(format, args...)}
}

func notImplemented(format string, args ...any) *Error {
	return &Error{Code: proto.ErrNotImplemented, Message: "chsink: " + fmt.Sprintf(format, args...) + " is not implemented"}
}

// lex splits a statement into tokens; comments and whitespace are dropped.
func lex(sql string) ([]token, error) {
	var out []token
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return nil, syntaxError("unterminated comment")
			}
			i += end + 4
		case c == '`' || c == '"' || c == '\'':
			s, n, err := unquote(sql[i:])
			if err != nil {
				return nil, err
			}
			kind := tokQuoted
			if c == '\'' {
				kind = tokString
			}
			out = append(out, token{kind, s})
			i += n
		case isWordStart(c):
			j := i + 1
			for j < len(sql) && isWordByte(sql[j]) {
				j++
			}
			out = append(out, token{tokWord, sql[i:j]})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(sql) && (isWordByte(sql[j]) || sql[j] == '.') {
				j++
			}
			out = append(out, token{tokNumber, sql[i:j]})
			i = j
		default:
			out = append(out, token{tokPunct, sql[i : i+1]})
			i++
		}
	}
	return out, nil
}

// unquote reads a quoted identifier or literal at the start of s (backslash escapes the next
// byte; a doubled quote is one quote) and returns its text and length in s.
func unquote(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			switch e := s[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '0':
				b.WriteByte(0)
			default:
				b.WriteByte(e)
			}
		case c == q && i+1 < len(s) && s[i+1] == q:
			b.WriteByte(q)
			i++
		case c == q:
			return b.String(), i + 1, nil
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, syntaxError("unterminated quoted text %.40q", s)
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return token{}
}

func (p *parser) next() token {
	t := p.peek()
	if p.i < len(p.toks) {
		p.i++
	}
	return t
}

// words consumes the keywords if the next tokens are exactly they.
func (p *parser) words(ws ...string) bool {
	for k, w := range ws {
		if p.i+k >= len(p.toks) || !p.toks[p.i+k].is(w) {
			return false
		}
	}
	p.i += len(ws)
	return true
}

func (p *parser) ident(what string) (string, error) {
	t := p.next()
	if t.kind != tokWord && t.kind != tokQuoted {
		return "", syntaxError("expected %s, got %q", what, t.text)
	}
	return t.text, nil
}

// qualified reads [db.]name; db defaults to the connection's database.
func (p *parser) qualified(db string) (string, string, error) {
	name, err := p.ident("a name")
	if err != nil {
		return "", "", err
	}
	if p.peek().punct(".") {
		p.next()
		db = name
		if name, err = p.ident("a name after " + db + "."); err != nil {
			return "", "", err
		}
	}
	return db, name, nil
}

// onCluster skips ON CLUSTER name: the sink is one server.
func (p *parser) onCluster() error {
	if p.words("ON", "CLUSTER") {
		_, err := p.ident("a cluster name")
		return err
	}
	return nil
}

// group returns the tokens inside the parenthesis at the parser's position (which must be
// "(") and moves past its closing one.
func (p *parser) group() ([]token, error) {
	if !p.peek().punct("(") {
		return nil, syntaxError("expected (, got %q", p.peek().text)
	}
	start, depth := p.i+1, 0
	for ; p.i < len(p.toks); p.i++ {
		switch t := p.toks[p.i]; {
		case t.punct("("):
			depth++
		case t.punct(")"):
			depth--
			if depth == 0 {
				p.i++
				return p.toks[start : p.i-1], nil
			}
		}
	}
	return nil, syntaxError("unbalanced parentheses")
}

// splitTop splits tokens at the commas outside parentheses.
func splitTop(toks []token) [][]token {
	var out [][]token
	depth, start := 0, 0
	for i, t := range toks {
		switch {
		case t.punct("("):
			depth++
		case t.punct(")"):
			depth--
		case t.punct(",") && depth == 0:
			out = append(out, toks[start:i])
			start = i + 1
		}
	}
	if start < len(toks) {
		out = append(out, toks[start:])
	}
	return out
}

// Statements.
type (
	createDatabase struct {
		name        string
		ifNotExists bool
	}
	createTable struct {
		db, name               string
		ifNotExists, orReplace bool
		cols                   []column
	}
	// createView is accepted and not run: the sink stores nothing, so a materialized view
	// would have nothing to read.
	createView struct{ db, name string }
	// describe is DESCRIBE TABLE: the table's columns, as ClickHouse lists them.
	describe struct{ db, name string }
	drop     struct {
		kind     string // TABLE, DATABASE, VIEW or DICTIONARY
		db, name string
		ifExists bool
	}
	insert struct {
		db, name string
		cols     []string // nil: all insertable columns
	}
)

// column is a table's column: its name, its type as ClickHouse spells it in a block header,
// how it gets its value (kind "", DEFAULT, MATERIALIZED, ALIAS or EPHEMERAL, and expr), and
// the rest of its definition as DESCRIBE TABLE shows it, rendered from the DDL's tokens.
type column struct {
	name  string
	typ   proto.ColumnType
	kind  string
	expr  string // the DEFAULT, MATERIALIZED, ALIAS or EPHEMERAL expression
	codec string // CODEC's arguments: "Delta(8), ZSTD(1)"
	ttl   string
	note  string // COMMENT
}

// parseStatement parses one statement of the subset; anything else is NOT_IMPLEMENTED.
func parseStatement(sql, db string) (any, error) {
	toks, err := lex(sql)
	if err != nil {
		return nil, err
	}
	for len(toks) > 0 && toks[len(toks)-1].punct(";") {
		toks = toks[:len(toks)-1]
	}
	p := &parser{toks: toks}
	switch {
	case p.words("INSERT", "INTO"):
		return p.insert(db)
	case p.words("CREATE"):
		return p.create(db)
	case p.words("DROP"):
		return p.drop(db)
	case p.words("DESCRIBE"), p.words("DESC"):
		return p.describe(db)
	}
	first := sql
	if len(first) > 60 {
		first = first[:60] + "..."
	}
	return nil, notImplemented("the statement %q", strings.TrimSpace(first))
}

func (p *parser) create(db string) (any, error) {
	orReplace := p.words("OR", "REPLACE")
	switch {
	case p.words("DATABASE"):
		ifNot := p.words("IF", "NOT", "EXISTS")
		name, err := p.ident("a database name")
		if err != nil {
			return nil, err
		}
		return &createDatabase{name: name, ifNotExists: ifNot}, p.onCluster()
	case p.words("MATERIALIZED", "VIEW"), p.words("VIEW"):
		p.words("IF", "NOT", "EXISTS")
		vdb, name, err := p.qualified(db)
		return &createView{db: vdb, name: name}, err
	case p.words("TABLE"):
	default:
		return nil, notImplemented("CREATE %s", p.peek().text)
	}
	st := &createTable{orReplace: orReplace, ifNotExists: p.words("IF", "NOT", "EXISTS")}
	var err error
	if st.db, st.name, err = p.qualified(db); err != nil {
		return nil, err
	}
	if p.words("UUID") {
		p.next()
	}
	if err := p.onCluster(); err != nil {
		return nil, err
	}
	if !p.peek().punct("(") {
		return nil, notImplemented("CREATE TABLE without a column list (AS ...)")
	}
	elems, err := p.group()
	if err != nil {
		return nil, err
	}
	if st.cols, err = columns(elems); err != nil {
		return nil, fmt.Errorf("table %s.%s: %w", st.db, st.name, err)
	}
	if len(st.cols) == 0 {
		return nil, &Error{Code: proto.ErrEmptyListOfColumnsPassed, Message: "table " + st.name + " has no columns"}
	}
	return st, nil
}

// columns reads a table's elements: column definitions (Nested ones expanded into their
// Array columns, as flatten_nested does), skipping INDEX, PROJECTION and CONSTRAINT clauses.
func columns(elems []token) ([]column, error) {
	var out []column
	for _, el := range splitTop(elems) {
		if len(el) == 0 {
			return nil, syntaxError("empty column definition")
		}
		if h := el[0]; h.is("INDEX") || h.is("PROJECTION") || h.is("CONSTRAINT") || h.is("PRIMARY") || h.is("STATISTICS") {
			continue
		}
		p := &parser{toks: el}
		name, err := p.ident("a column name")
		if err != nil {
			return nil, err
		}
		if p.peek().kind != tokWord || isModifier(p.peek()) {
			return nil, notImplemented("column %s without a type", name)
		}
		if p.peek().is("Nested") {
			p.next()
			inner, err := p.group()
			if err != nil {
				return nil, err
			}
			fields, err := columns(inner)
			if err != nil {
				return nil, fmt.Errorf("nested %s: %w", name, err)
			}
			var outer column // the Nested column's own clauses: its CODEC applies to every field
			if err := p.clauses(&outer); err != nil {
				return nil, fmt.Errorf("nested %s: %w", name, err)
			}
			for _, f := range fields {
				f.name, f.typ = name+"."+f.name, proto.ColumnType("Array("+string(f.typ)+")")
				if f.codec == "" {
					f.codec = outer.codec
				}
				out = append(out, f)
			}
			continue
		}
		typ, err := p.typ()
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", name, err)
		}
		c := column{name: name, typ: typ}
		if p.words("NULL") {
			c.typ = "Nullable(" + typ + ")"
		}
		p.words("NOT", "NULL")
		if err := p.clauses(&c); err != nil {
			return nil, fmt.Errorf("column %s: %w", name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func isModifier(t token) bool {
	return t.is("DEFAULT") || t.is("MATERIALIZED") || t.is("ALIAS") || t.is("EPHEMERAL")
}

// isClause is a keyword that starts a clause of a column definition after its type.
func isClause(t token) bool {
	return isModifier(t) || t.is("COMMENT") || t.is("CODEC") || t.is("TTL") || t.is("SETTINGS") || t.is("STATISTICS") || t.is("PRIMARY")
}

// clauses reads a column definition's clauses after its type, in any order: DEFAULT,
// MATERIALIZED, ALIAS or EPHEMERAL and its expression, COMMENT 'text', CODEC(...) and TTL
// expression are kept for DESCRIBE; other tokens (SETTINGS, STATISTICS, PRIMARY KEY) are
// skipped, as they were before DESCRIBE needed the rest.
func (p *parser) clauses(c *column) error {
	for p.i < len(p.toks) {
		t := p.next()
		switch {
		case isModifier(t):
			c.kind, c.expr = strings.ToUpper(t.text), render(p.expr())
		case t.is("COMMENT"):
			s := p.next()
			if s.kind != tokString {
				return syntaxError("expected a string after COMMENT, got %q", s.text)
			}
			c.note = s.text
		case t.is("CODEC"):
			args, err := p.group()
			if err != nil {
				return err
			}
			c.codec = render(args)
		case t.is("TTL"):
			c.ttl = render(p.expr())
		}
	}
	return nil
}

// expr returns the tokens of an expression in a column definition: up to the next clause
// keyword outside parentheses, or the end.
func (p *parser) expr() []token {
	start, depth := p.i, 0
	for ; p.i < len(p.toks); p.i++ {
		switch t := p.toks[p.i]; {
		case t.punct("("):
			depth++
		case t.punct(")"):
			depth--
		case depth == 0 && isClause(t):
			return p.toks[start:p.i]
		}
	}
	return p.toks[start:]
}

// typ reads a type: a name and, optionally, its parenthesised arguments, written as
// ClickHouse names types in a block header ("Map(LowCardinality(String), String)").
func (p *parser) typ() (proto.ColumnType, error) {
	name := p.next()
	if name.kind != tokWord {
		return "", syntaxError("expected a type, got %q", name.text)
	}
	name.text = typeName(name.text)
	if !p.peek().punct("(") {
		return proto.ColumnType(name.text), nil
	}
	args, err := p.group()
	if err != nil {
		return "", err
	}
	canon := make([]token, len(args))
	for i, t := range args {
		if t.kind == tokWord {
			t.text = typeName(t.text)
		}
		canon[i] = t
	}
	return proto.ColumnType(name.text + "(" + render(canon) + ")"), nil
}

// typeName is the name ClickHouse gives a type in a block header for a case-insensitive
// alias a DDL may use (the ClickHouse exporter's metrics tables declare Boolean columns), else
// name itself.
func typeName(name string) string {
	switch strings.ToLower(name) {
	case "bool", "boolean":
		return "Bool"
	}
	return name
}

// render writes tokens back as text: ", " after commas, " = " for equals, a space between
// two words, nothing else.
func render(toks []token) string {
	var b strings.Builder
	prevWord := false
	for _, t := range toks {
		word := t.kind != tokPunct
		switch {
		case t.punct(","):
			b.WriteString(", ")
		case t.punct("="):
			b.WriteString(" = ")
		default:
			if word && prevWord {
				b.WriteByte(' ')
			}
			switch t.kind {
			case tokString:
				b.WriteString("'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(t.text) + "'")
			case tokQuoted:
				b.WriteString("`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(t.text) + "`")
			default:
				b.WriteString(t.text)
			}
		}
		prevWord = word
	}
	return b.String()
}

func (p *parser) drop(db string) (any, error) {
	st := &drop{}
	for _, k := range []string{"TABLE", "DATABASE", "VIEW", "DICTIONARY"} {
		if p.words(k) {
			st.kind = k
			break
		}
	}
	if st.kind == "" {
		return nil, notImplemented("DROP %s", p.peek().text)
	}
	st.ifExists = p.words("IF", "EXISTS")
	var err error
	if st.kind == "DATABASE" {
		st.name, err = p.ident("a database name")
	} else {
		st.db, st.name, err = p.qualified(db)
	}
	return st, err
}

// describe reads DESCRIBE|DESC [TABLE] [db.]name [SETTINGS ...] [FORMAT name]; describing a
// query or a table function is not implemented. Over the native protocol the result is
// native blocks whatever the format.
func (p *parser) describe(db string) (any, error) {
	p.words("TABLE")
	if p.peek().punct("(") {
		return nil, notImplemented("DESCRIBE of a query")
	}
	st := &describe{}
	var err error
	if st.db, st.name, err = p.qualified(db); err != nil {
		return nil, err
	}
	if p.peek().punct("(") {
		return nil, notImplemented("DESCRIBE of a table function")
	}
	if p.words("SETTINGS") {
		for p.i < len(p.toks) && !p.peek().is("FORMAT") {
			p.next()
		}
	}
	if p.words("FORMAT") {
		if _, err := p.ident("a format name"); err != nil {
			return nil, err
		}
	}
	if p.i < len(p.toks) {
		return nil, syntaxError("unexpected %q after DESCRIBE TABLE %s.%s", p.peek().text, st.db, st.name)
	}
	return st, nil
}

// insert reads INSERT INTO [TABLE] [db.]name [(columns)] [SETTINGS ...] VALUES|FORMAT name,
// with the data to follow as native blocks; inline data, INSERT ... SELECT and table
// functions are not implemented.
func (p *parser) insert(db string) (any, error) {
	p.words("TABLE")
	if p.words("FUNCTION") {
		return nil, notImplemented("INSERT INTO FUNCTION")
	}
	st := &insert{}
	var err error
	if st.db, st.name, err = p.qualified(db); err != nil {
		return nil, err
	}
	if p.peek().punct("(") {
		list, err := p.group()
		if err != nil {
			return nil, err
		}
		for _, el := range splitTop(list) {
			var parts []string
			for k, t := range el {
				switch {
				case k%2 == 1 && t.punct("."):
				case k%2 == 0 && (t.kind == tokWord || t.kind == tokQuoted):
					parts = append(parts, t.text)
				default:
					return nil, notImplemented("the column expression %q in an INSERT's column list", render(el))
				}
			}
			if len(parts) == 0 || len(el)%2 == 0 {
				return nil, syntaxError("bad column list %q", render(list))
			}
			st.cols = append(st.cols, strings.Join(parts, "."))
		}
		if len(st.cols) == 0 {
			return nil, syntaxError("empty column list")
		}
	}
	if p.words("SETTINGS") {
		for p.i < len(p.toks) && !p.peek().is("VALUES") && !p.peek().is("FORMAT") {
			p.next()
		}
	}
	switch {
	case p.words("VALUES"):
	case p.words("FORMAT"):
		if _, err := p.ident("a format name"); err != nil {
			return nil, err
		}
	case p.peek().is("SELECT"), p.peek().is("WITH"):
		return nil, notImplemented("INSERT ... SELECT")
	default:
		return nil, syntaxError("expected VALUES or FORMAT, got %q", p.peek().text)
	}
	if p.i < len(p.toks) {
		return nil, notImplemented("inline data in an INSERT (the sink reads native blocks)")
	}
	return st, nil
}
