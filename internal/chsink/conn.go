package chsink

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"

	"github.com/ClickHouse/ch-go/compress"
	"github.com/ClickHouse/ch-go/proto"
)

// Revision is the protocol revision the sink announces (ch-go's); a connection speaks the
// lower of it and the client's.
const Revision = proto.Version

// minRevision is the oldest client revision the sink serves: readQuery takes settings
// serialized as strings, which older clients sent in binary.
const minRevision = 54429

// conn is one client connection: the negotiated revision and database, a reader over the
// socket (decompressing where a block is compressed) and the buffer answers are built in.
type conn struct {
	s   *Server
	w   io.Writer
	r   *proto.Reader
	d   dec // reads through r
	buf proto.Buffer
	ver int
	db  string
	lz4 *compress.Writer
}

// errCancelled ends a connection whose client cancelled a query: ch-go's client closes the
// connection after sending Cancel.
var errCancelled = errors.New("query cancelled by the client")

// fatal marks an error after which the connection's byte stream cannot be trusted: the sink
// sends the exception and closes the connection, as ClickHouse does.
type fatal struct{ error }

func (f fatal) Unwrap() error { return f.error }

// serveConn speaks the protocol on rw until the client closes it (nil) or an error ends it.
// A panic in a decoder (input ch-go's decoders did not expect) ends the connection with an
// error rather than the process.
func (s *Server) serveConn(rw io.ReadWriter) (err error) {
	c := &conn{s: s, w: rw, r: proto.NewReader(rw)}
	c.d = dec{r: c.r, maxStr: s.cfg.MaxStringBytes}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("chsink: panic serving a connection: %v\n%s", p, debug.Stack())
			_ = c.exception(&Error{Code: proto.ErrLogicalError, Message: fmt.Sprintf("chsink: %v", p)}) // best effort: the connection ends
		}
	}()
	if err := c.handshake(); err != nil {
		return c.end(err)
	}
	for {
		code, err := c.r.UVarInt()
		if err != nil {
			return c.end(err)
		}
		switch proto.ClientCode(code) {
		case proto.ClientCodePing:
			proto.ServerCodePong.Encode(&c.buf)
			err = c.flush()
		case proto.ClientCodeQuery:
			err = c.query()
		case proto.ClientCodeCancel:
			// Nothing is running: nothing to cancel.
		default:
			err = fatal{&Error{Code: proto.ErrUnexpectedPacketFromClient, Message: fmt.Sprintf("chsink: unexpected packet %d from the client outside a query", code)}}
		}
		if err != nil {
			return c.end(err)
		}
	}
}

// end sends a fatal error's exception (best effort: the client may be gone) and says how the
// connection ended: nil for the client closing it between packets.
func (c *conn) end(err error) error {
	var f fatal
	switch {
	case errors.Is(err, io.EOF) && !errors.As(err, &f):
		return nil
	case errors.Is(err, errCancelled):
		return nil
	case errors.Is(err, net.ErrClosed) && c.s.isClosed():
		return nil // Shutdown closed it
	case errors.As(err, &f):
		_ = c.exception(f.error) // best effort: the connection ends
	}
	return err
}

func (c *conn) handshake() error {
	code, err := c.r.UVarInt()
	if err != nil {
		return err
	}
	if proto.ClientCode(code) != proto.ClientCodeHello {
		return fatal{&Error{Code: proto.ErrUnexpectedPacketFromClient, Message: fmt.Sprintf("chsink: packet %d before the handshake", code)}}
	}
	h := readHello(&c.d)
	if err := c.d.err; err != nil {
		return fatal{&Error{Code: proto.ErrUnexpectedPacketFromClient, Message: "chsink: decode hello: " + err.Error()}}
	}
	if h.revision < minRevision {
		return fatal{notImplemented("client protocol revision %d (older than %d)", h.revision, minRevision)}
	}
	c.ver = min(h.revision, Revision)
	c.db = h.database
	if c.db == "" {
		c.db = "default"
	}
	c.s.cat.mu.Lock()
	known := c.s.cat.dbs[c.db] != nil
	c.s.cat.mu.Unlock()
	if !known {
		return fatal{&Error{Code: proto.ErrUnknownDatabase, Message: "Database " + c.db + " does not exist"}}
	}
	info := proto.ServerHello{
		Name: "ClickHouse", Major: 23, Minor: 8, Patch: 0, Revision: Revision,
		Timezone: "UTC", DisplayName: "olapgate-chsink",
	}
	info.EncodeAware(&c.buf, c.ver)
	if err := c.flush(); err != nil {
		return err
	}
	if proto.FeatureAddendum.In(c.ver) {
		if c.d.str("quota key"); c.d.err != nil {
			return fatal{&Error{Code: proto.ErrUnexpectedPacketFromClient, Message: "chsink: decode addendum: " + c.d.err.Error()}}
		}
	}
	return nil
}

// query serves one Query packet and what follows it. An error the query itself caused
// (unknown table, statement not implemented) is answered with an exception and is not
// returned; a returned error ends the connection.
func (c *conn) query() error {
	q := readQuery(&c.d, c.ver, c.s.cfg.OnQuery != nil)
	if err := c.d.err; err != nil {
		return fatal{&Error{Code: exceptionCode(err, proto.ErrUnexpectedPacketFromClient), Message: "chsink: decode query: " + err.Error()}}
	}
	compressed := q.compressed
	// The client's external tables, ended by an empty block (ch-go sends only that).
	for {
		code, err := c.r.UVarInt()
		if err != nil {
			return err
		}
		switch proto.ClientCode(code) {
		case proto.ClientCodeData:
		case proto.ClientCodeCancel:
			return errCancelled
		default:
			return fatal{&Error{Code: proto.ErrUnexpectedPacketFromClient, Message: fmt.Sprintf("chsink: packet %d instead of the query's data", code)}}
		}
		end, err := c.emptyBlock(compressed)
		if err != nil {
			return err
		}
		if end {
			break
		}
	}
	if f := c.s.cfg.OnQuery; f != nil {
		f(Query{Body: q.body, Settings: q.settings, Compressed: compressed})
	}
	st, err := parseStatement(q.body, c.db)
	if err != nil {
		return c.exception(err)
	}
	switch st := st.(type) {
	case *insert:
		return c.insert(st, compressed)
	case *describe:
		return c.describe(st, compressed)
	}
	if err := c.s.cat.apply(st); err != nil {
		return c.exception(err)
	}
	proto.ServerCodeEndOfStream.Encode(&c.buf)
	return c.flush()
}

// describeColumns are DESCRIBE TABLE's result columns, all String, as ClickHouse names them.
var describeColumns = []string{"name", "type", "default_type", "default_expression", "comment", "codec_expression", "ttl_expression"}

// describe answers DESCRIBE TABLE as ClickHouse does over the native protocol: the result's
// header block, one block with a row per column, EndOfStream.
func (c *conn) describe(st *describe, compressed bool) error {
	cols, err := c.s.cat.describe(st)
	if err != nil {
		return c.exception(err)
	}
	header := make([]proto.InputColumn, len(describeColumns))
	result := make([]proto.InputColumn, len(describeColumns))
	data := make([]*proto.ColStr, len(describeColumns))
	for i, name := range describeColumns {
		data[i] = new(proto.ColStr)
		header[i] = proto.InputColumn{Name: name, Data: headerColumn(proto.ColumnTypeString)}
		result[i] = proto.InputColumn{Name: name, Data: data[i]}
	}
	for _, col := range cols {
		for i, v := range []string{col.name, string(col.typ), col.kind, col.expr, col.note, col.codec, col.ttl} {
			data[i].Append(v)
		}
	}
	if err := c.writeData(header, compressed); err != nil {
		return err
	}
	if err := c.writeData(result, compressed); err != nil {
		return err
	}
	proto.ServerCodeEndOfStream.Encode(&c.buf)
	return c.flush()
}

// emptyBlock reads a Data packet's body (after its code) and reports whether it is the empty
// block; external table data, which the sink does not take, is a fatal error.
func (c *conn) emptyBlock(compressed bool) (bool, error) {
	b, err := c.readBlock(compressed, nil)
	if err != nil {
		return false, err
	}
	if !b.End() {
		return false, fatal{notImplemented("external table data (%d columns, %d rows)", b.Columns, b.Rows)}
	}
	return true, nil
}

// readBlock reads a Data packet's body: the external table name, then the block, through the
// decompressing reader when the query is compressed, into target (nil: only the empty block
// is expected). Errors are fatal: the stream is no longer aligned on packets.
func (c *conn) readBlock(compressed bool, target proto.Results) (proto.Block, error) {
	var b proto.Block
	if proto.FeatureTempTables.In(c.ver) {
		if c.d.str("external table name"); c.d.err != nil {
			return b, fatal{&Error{Code: exceptionCode(c.d.err, proto.ErrIncorrectData), Message: "chsink: decode data packet: " + c.d.err.Error()}}
		}
	}
	if compressed {
		c.r.EnableCompression()
		defer c.r.DisableCompression()
	}
	bad := func(what string, err error) error {
		return fatal{&Error{Code: exceptionCode(err, proto.ErrIncorrectData), Message: "chsink: decode block " + what + ": " + err.Error()}}
	}
	if proto.FeatureBlockInfo.In(c.ver) {
		if err := b.Info.Decode(c.r); err != nil {
			return b, bad("info", err)
		}
	}
	b.Columns, b.Rows = c.d.int("columns"), c.d.int("rows")
	if err := c.d.err; err != nil {
		return b, bad("size", err)
	}
	if b.Columns > 10_000 {
		return b, bad("size", fmt.Errorf("%d columns", b.Columns))
	}
	if b.Rows > c.s.cfg.MaxBlockRows {
		return b, fatal{&Error{Code: proto.ErrTooManyRows, Message: fmt.Sprintf("chsink: a block of %d rows (at most %d)", b.Rows, c.s.cfg.MaxBlockRows)}}
	}
	if b.End() || target == nil {
		return b, nil
	}
	if err := readColumns(&c.d, c.ver, b, target); err != nil {
		return b, bad("data", err)
	}
	return b, nil
}

// exceptionCode is err's exception code when it carries one, else def.
func exceptionCode(err error, def proto.Error) proto.Error {
	if e := exceptionOf(err); e.Code != proto.ErrUnknownException {
		return e.Code
	}
	return def
}

// exception sends err as an exception packet. It returns the write's error: the connection
// is over if the client cannot be written to.
func (c *conn) exception(err error) error {
	e := exceptionOf(err)
	c.buf.Reset()
	proto.ServerCodeException.Encode(&c.buf)
	ex := proto.Exception{Code: e.Code, Name: "DB::Exception", Message: e.Message}
	ex.EncodeAware(&c.buf, c.ver)
	return c.flush()
}

func (c *conn) flush() error {
	_, err := c.w.Write(c.buf.Buf)
	c.buf.Reset()
	if err != nil {
		return fmt.Errorf("chsink: write: %w", err)
	}
	return nil
}
