package chsink

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/ClickHouse/ch-go/proto"
)

// Error is a ClickHouse exception the sink sends: its code and message.
type Error struct {
	Code    proto.Error
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// exceptionOf is err as an exception: its own code when it is (or wraps) an *Error, else
// UNKNOWN_EXCEPTION with its text.
func exceptionOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		if e.Error() == err.Error() {
			return e
		}
		return &Error{Code: e.Code, Message: err.Error()}
	}
	return &Error{Code: proto.ErrUnknownException, Message: err.Error()}
}

// TableStats is what one table received.
type TableStats struct {
	// Table is "database.table".
	Table string
	// Rows and Blocks count the data blocks of INSERTs (every block a client sent and the
	// sink decoded and accepted: a failed INSERT's earlier blocks count, as ClickHouse keeps
	// them); Inserts counts INSERT statements answered with success.
	Rows, Blocks, Inserts int64
}

type counters struct{ rows, blocks, inserts atomic.Int64 }

type table struct {
	db, name string
	cols     []column
	stats    *counters
}

// catalog is the sink's databases and tables, learned from the DDL it is sent. Counters are
// kept by name across DROP and CREATE, so a benchmark's totals survive a client re-creating
// its schema.
type catalog struct {
	mu     sync.Mutex
	dbs    map[string]map[string]*table // database → table name → table (nil: a view)
	counts map[string]*counters         // "database.table" →
}

func newCatalog() *catalog {
	return &catalog{
		dbs:    map[string]map[string]*table{"default": {}, "system": {}},
		counts: map[string]*counters{},
	}
}

func key(db, name string) string { return db + "." + name }

// apply runs a DDL statement.
func (c *catalog) apply(st any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch st := st.(type) {
	case *createDatabase:
		if c.dbs[st.name] != nil {
			if st.ifNotExists {
				return nil
			}
			return &Error{Code: proto.ErrDatabaseAlreadyExists, Message: "Database " + st.name + " already exists"}
		}
		c.dbs[st.name] = map[string]*table{}
	case *createTable:
		tables := c.dbs[st.db]
		if tables == nil {
			return &Error{Code: proto.ErrUnknownDatabase, Message: "Database " + st.db + " does not exist"}
		}
		if _, ok := tables[st.name]; ok && !st.orReplace {
			if st.ifNotExists {
				return nil
			}
			return &Error{Code: proto.ErrTableAlreadyExists, Message: "Table " + key(st.db, st.name) + " already exists"}
		}
		seen := map[string]bool{}
		for _, col := range st.cols {
			if seen[col.name] {
				return &Error{Code: proto.ErrDuplicateColumn, Message: "Column " + col.name + " specified more than once"}
			}
			seen[col.name] = true
			// A type the sink cannot decode fails here, at CREATE, rather than at the first INSERT.
			if _, err := newColumn(col.typ, 0); err != nil {
				return fmt.Errorf("table %s column %s: %w", key(st.db, st.name), col.name, err)
			}
		}
		k := key(st.db, st.name)
		if c.counts[k] == nil {
			c.counts[k] = &counters{}
		}
		tables[st.name] = &table{db: st.db, name: st.name, cols: st.cols, stats: c.counts[k]}
	case *createView:
		tables := c.dbs[st.db]
		if tables == nil {
			return &Error{Code: proto.ErrUnknownDatabase, Message: "Database " + st.db + " does not exist"}
		}
		if _, ok := tables[st.name]; !ok {
			tables[st.name] = nil
		}
	case *drop:
		if st.kind == "DATABASE" {
			if c.dbs[st.name] == nil && !st.ifExists {
				return &Error{Code: proto.ErrUnknownDatabase, Message: "Database " + st.name + " does not exist"}
			}
			delete(c.dbs, st.name)
			return nil
		}
		if _, ok := c.dbs[st.db][st.name]; !ok {
			if st.ifExists {
				return nil
			}
			return &Error{Code: proto.ErrUnknownTable, Message: "Table " + key(st.db, st.name) + " does not exist"}
		}
		delete(c.dbs[st.db], st.name)
	default:
		return &Error{Code: proto.ErrLogicalError, Message: fmt.Sprintf("chsink: statement %T is not DDL", st)}
	}
	return nil
}

// insertColumns resolves an INSERT: its table and the columns of the block header the
// client must send, in the INSERT's order (all ordinary and DEFAULT columns when it names
// none, as ClickHouse's insert header has them).
func (c *catalog) insertColumns(st *insert) (*table, []column, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.dbs[st.db][st.name]
	switch {
	case !ok && c.dbs[st.db] == nil:
		return nil, nil, &Error{Code: proto.ErrUnknownDatabase, Message: "Database " + st.db + " does not exist"}
	case !ok:
		return nil, nil, &Error{Code: proto.ErrUnknownTable, Message: "Table " + key(st.db, st.name) + " does not exist"}
	case t == nil:
		return nil, nil, notImplemented("INSERT into the view %s", key(st.db, st.name))
	}
	if st.cols == nil {
		var cols []column
		for _, col := range t.cols {
			if col.kind == "" || col.kind == "DEFAULT" {
				cols = append(cols, col)
			}
		}
		return t, cols, nil
	}
	cols := make([]column, 0, len(st.cols))
	seen := map[string]bool{}
	for _, name := range st.cols {
		if seen[name] {
			return nil, nil, &Error{Code: proto.ErrDuplicateColumn, Message: "Column " + name + " in table " + key(t.db, t.name) + " specified more than once"}
		}
		seen[name] = true
		i := indexOf(t.cols, name)
		if i < 0 {
			return nil, nil, &Error{Code: proto.ErrNoSuchColumnInTable, Message: "No such column " + name + " in table " + key(t.db, t.name)}
		}
		if k := t.cols[i].kind; k == "MATERIALIZED" || k == "ALIAS" {
			return nil, nil, &Error{Code: proto.ErrIllegalColumn, Message: "Cannot insert column " + name + ", because it is " + k + " column"}
		}
		cols = append(cols, t.cols[i])
	}
	return t, cols, nil
}

// describe resolves DESCRIBE TABLE: every column of the table, in the DDL's order (Nested
// ones expanded, as with flatten_nested). A view's columns are not known to the sink.
func (c *catalog) describe(st *describe) ([]column, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.dbs[st.db][st.name]
	switch {
	case !ok && c.dbs[st.db] == nil:
		return nil, &Error{Code: proto.ErrUnknownDatabase, Message: "Database " + st.db + " does not exist"}
	case !ok:
		return nil, &Error{Code: proto.ErrUnknownTable, Message: "Table " + key(st.db, st.name) + " does not exist"}
	case t == nil:
		return nil, notImplemented("DESCRIBE of the view %s", key(st.db, st.name))
	}
	return append([]column(nil), t.cols...), nil
}

func indexOf(cols []column, name string) int {
	for i, c := range cols {
		if c.name == name {
			return i
		}
	}
	return -1
}

func (c *catalog) stats() []TableStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]TableStats, 0, len(c.counts))
	for k, n := range c.counts {
		out = append(out, TableStats{Table: k, Rows: n.rows.Load(), Blocks: n.blocks.Load(), Inserts: n.inserts.Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}

func (c *catalog) rows(k string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.counts[k]; n != nil {
		return n.rows.Load()
	}
	return 0
}
