// Package chsql writes ClickHouse identifiers and string literals, for every place olapgate builds ClickHouse SQL (planner, store/clickhouse, collector/telemetry).
package chsql

import "strings"

var identEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`")

// Ident quotes a name with backquotes, backslash and backquote escaped.
func Ident(name string) string { return "`" + identEscaper.Replace(name) + "`" }

// String quotes a string literal under ClickHouse's lexical rules, where a backslash escapes
// the next character. Quote and backslash are escaped, and every byte outside printable ASCII
// is written \xHH, so the literal, and the statement, are printable ASCII: nothing in a value
// can end the literal, and no byte sequence depends on how the server decodes UTF-8. \xHH
// reproduces the exact bytes (NUL included).
func String(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			const hex = "0123456789ABCDEF"
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
