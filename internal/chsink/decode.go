package chsink

import (
	"fmt"

	"github.com/ClickHouse/ch-go/proto"
)

// The client's packets are read here rather than with proto's decoders, which allocate
// whatever a length prefix claims before reading it: a corrupt or hostile prefix must be
// refused first, as ClickHouse refuses strings over 1 GiB. The field order is ch-go's and
// ClickHouse's (src/Core/ProtocolDefines.h, Interpreters/ClientInfo.cpp).

// dec reads fields, keeping the first error; later reads return zero values.
type dec struct {
	r      *proto.Reader
	maxStr int
	err    error
}

func (d *dec) fail(what string, err error) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %w", what, err)
	}
}

func (d *dec) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, err := d.r.UVarInt()
	if err != nil {
		d.fail(what, err)
	}
	return v
}

func (d *dec) int(what string) int {
	v := d.uvarint(what)
	if v > 1<<31 {
		d.fail(what, fmt.Errorf("%d out of range", v))
		return 0
	}
	return int(v)
}

func (d *dec) byte(what string) byte {
	if d.err != nil {
		return 0
	}
	v, err := d.r.UInt8()
	if err != nil {
		d.fail(what, err)
	}
	return v
}

func (d *dec) skip(what string, n int) {
	if d.err != nil {
		return
	}
	if _, err := d.r.ReadRaw(n); err != nil {
		d.fail(what, err)
	}
}

func (d *dec) str(what string) string {
	n := d.uvarint(what + " length")
	if d.err != nil {
		return ""
	}
	if n > uint64(d.maxStr) {
		d.fail(what, &Error{Code: proto.ErrTooLargeStringSize, Message: fmt.Sprintf("chsink: a string of %d bytes (at most %d)", n, d.maxStr)})
		return ""
	}
	b := make([]byte, n)
	if err := d.r.ReadFull(b); err != nil {
		d.fail(what, err)
	}
	return string(b)
}

type hello struct {
	revision int
	database string
}

// readHello reads a ClientHello after its code.
func readHello(d *dec) hello {
	d.str("client name")
	d.int("major version")
	d.int("minor version")
	h := hello{revision: d.int("protocol revision")}
	h.database = d.str("database")
	d.str("user")
	d.str("password")
	return h
}

type query struct {
	body       string
	compressed bool
	settings   []Setting
}

// maxSettings bounds the settings readQuery keeps: ClickHouse has about a thousand.
const maxSettings = 10_000

// readQuery reads a Query packet after its code, at revision v (≥ minRevision), keeping its
// settings when keep is set.
func readQuery(d *dec, v int, keep bool) query {
	var q query
	d.str("query id")
	if proto.FeatureClientWriteInfo.In(v) {
		readClientInfo(d, v)
	}
	for d.err == nil {
		name := d.str("setting")
		if name == "" {
			break
		}
		flags := d.uvarint("setting flags")
		value := d.str("setting value")
		if !keep || d.err != nil {
			continue
		}
		if len(q.settings) == maxSettings {
			d.fail("settings", fmt.Errorf("more than %d settings", maxSettings))
			break
		}
		q.settings = append(q.settings, Setting{Key: name, Value: value, Important: flags&1 != 0})
	}
	if proto.FeatureInterServerSecret.In(v) {
		d.str("inter-server secret")
	}
	if stage := d.uvarint("stage"); d.err == nil && !proto.Stage(stage).IsAStage() {
		d.fail("stage", fmt.Errorf("unknown stage %d", stage))
	}
	switch c := d.uvarint("compression"); {
	case d.err != nil:
	case c == uint64(proto.CompressionEnabled):
		q.compressed = true
	case c != uint64(proto.CompressionDisabled):
		d.fail("compression", fmt.Errorf("unknown compression flag %d", c))
	}
	q.body = d.str("query")
	if proto.FeatureParameters.In(v) {
		for d.err == nil {
			if d.str("parameter") == "" {
				break
			}
			d.uvarint("parameter flags")
			d.str("parameter value")
		}
	}
	return q
}

// readClientInfo skips the client info of a query; only the TCP interface's is implemented.
func readClientInfo(d *dec, v int) {
	if kind := d.byte("query kind"); d.err != nil || kind == byte(proto.ClientQueryNone) {
		return // ClickHouse sends nothing more for "no query"
	}
	d.str("initial user")
	d.str("initial query id")
	d.str("initial address")
	if proto.FeatureQueryStartTime.In(v) {
		d.skip("query start time", 8)
	}
	if iface := d.byte("interface"); d.err == nil && iface != byte(proto.InterfaceTCP) {
		d.fail("interface", notImplemented("client interface %d (only TCP's client info)", iface))
		return
	}
	d.str("os user")
	d.str("client hostname")
	d.str("client name")
	d.int("major version")
	d.int("minor version")
	d.int("protocol revision")
	if proto.FeatureQuotaKeyInClientInfo.In(v) {
		d.str("quota key")
	}
	if proto.FeatureDistributedDepth.In(v) {
		d.int("distributed depth")
	}
	if proto.FeatureVersionPatch.In(v) {
		d.int("patch version")
	}
	if proto.FeatureOpenTelemetry.In(v) {
		if d.byte("trace context") == 1 {
			d.skip("trace and span id", 16+8)
			d.str("trace state")
			d.byte("trace flags")
		}
	}
	if proto.FeatureParallelReplicas.In(v) {
		d.int("collaborate with initiator")
		d.int("participating replicas")
		d.int("current replica")
	}
}

// readColumns reads a data block's columns into target, as proto.Results does (names must be
// the header's, types must not conflict with it), with bounded names and types.
func readColumns(d *dec, v int, b proto.Block, target proto.Results) error {
	if b.Columns != len(target) {
		return fmt.Errorf("%d columns, the header has %d", b.Columns, len(target))
	}
	for i := range target {
		name, typ := d.str("column name"), proto.ColumnType(d.str("column type"))
		if proto.FeatureCustomSerialization.In(v) && d.byte("custom serialization") != 0 && d.err == nil {
			return notImplemented("custom serialization (column %s)", name)
		}
		if d.err != nil {
			return d.err
		}
		col := target[i]
		if name != col.Name {
			return fmt.Errorf("column %d is %q, the header's is %q", i, name, col.Name)
		}
		if inf, ok := col.Data.(proto.Inferable); ok {
			if err := inf.Infer(typ); err != nil {
				return fmt.Errorf("column %s: %w", name, err)
			}
		}
		if typ.Conflicts(col.Data.Type()) {
			return &Error{Code: proto.ErrTypeMismatch, Message: fmt.Sprintf("chsink: column %s is %s, the table's is %s", name, typ, col.Data.Type())}
		}
		col.Data.Reset()
		if b.Rows == 0 {
			continue
		}
		if s, ok := col.Data.(proto.StateDecoder); ok {
			if err := s.DecodeState(d.r); err != nil {
				return fmt.Errorf("column %s state: %w", name, err)
			}
		}
		if err := col.Data.DecodeColumn(d.r, b.Rows); err != nil {
			return fmt.Errorf("column %s: %w", name, err)
		}
	}
	return nil
}
