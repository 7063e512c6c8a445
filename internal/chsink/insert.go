package chsink

import (
	"fmt"

	"github.com/ClickHouse/ch-go/compress"
	"github.com/ClickHouse/ch-go/proto"
)

// insert serves an INSERT after its query packet: the header block (the columns the client
// must send, with the table's types), then the client's data blocks up to the empty one, then
// EndOfStream, or an exception when a block is refused.
func (c *conn) insert(st *insert, compressed bool) error {
	t, cols, err := c.s.cat.insertColumns(st)
	if err != nil {
		return c.exception(err)
	}
	target := make(proto.Results, len(cols))
	header := make([]proto.InputColumn, len(cols))
	for i, col := range cols {
		data, err := newColumn(col.typ, c.s.cfg.MaxStringBytes)
		if err != nil {
			return c.exception(fmt.Errorf("column %s: %w", col.name, err))
		}
		target[i] = proto.ResultColumn{Name: col.name, Data: data}
		header[i] = proto.InputColumn{Name: col.name, Data: headerColumn(col.typ)}
	}
	if err := c.writeData(header, compressed); err != nil {
		return err
	}
	name := key(t.db, t.name)
	var refused error // OnBlock's error: the rest of the INSERT is read and dropped
	for {
		code, err := c.r.UVarInt()
		if err != nil {
			return fatal{&Error{Code: proto.ErrIncorrectData, Message: "chsink: read packet during INSERT: " + err.Error()}}
		}
		switch proto.ClientCode(code) {
		case proto.ClientCodeData:
		case proto.ClientCodeCancel:
			return errCancelled
		default:
			return fatal{&Error{Code: proto.ErrUnexpectedPacketFromClient, Message: fmt.Sprintf("chsink: packet %d during INSERT into %s", code, name)}}
		}
		b, err := c.readBlock(compressed, target)
		if err != nil {
			return err
		}
		if b.End() {
			break
		}
		if refused != nil {
			continue
		}
		if f := c.s.cfg.OnBlock; f != nil {
			if refused = f(Block{Table: name, Rows: b.Rows, Columns: target}); refused != nil {
				continue
			}
		}
		t.stats.rows.Add(int64(b.Rows))
		t.stats.blocks.Add(1)
	}
	if refused != nil {
		return c.exception(refused)
	}
	t.stats.inserts.Add(1)
	proto.ServerCodeEndOfStream.Encode(&c.buf)
	return c.flush()
}

// writeData sends a Data packet with a block of the given columns, compressed (LZ4, ch-go's
// and ClickHouse's default method) when the query is.
func (c *conn) writeData(cols []proto.InputColumn, compressed bool) error {
	proto.ServerCodeData.Encode(&c.buf)
	if proto.FeatureTempTables.In(c.ver) {
		c.buf.PutString("")
	}
	start := len(c.buf.Buf)
	rows := 0
	if len(cols) > 0 {
		rows = cols[0].Data.Rows()
	}
	b := proto.Block{Info: proto.BlockInfo{BucketNum: -1}, Columns: len(cols), Rows: rows}
	if err := b.EncodeBlock(&c.buf, c.ver, cols); err != nil {
		return fmt.Errorf("chsink: encode block: %w", err)
	}
	if compressed {
		if c.lz4 == nil {
			c.lz4 = compress.NewWriter(compress.LevelZero, compress.LZ4)
		}
		if err := c.lz4.Compress(c.buf.Buf[start:]); err != nil {
			return fmt.Errorf("chsink: compress block: %w", err)
		}
		c.buf.Buf = append(c.buf.Buf[:start], c.lz4.Data...)
	}
	return c.flush()
}
