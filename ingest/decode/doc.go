// Package decode validates pushed events and writes them straight into column-major store batches.
//
// JSON bodies (one array of events, or NDJSON) are read by a validating scanner that builds no
// tree and allocates only the strings it stores; gRPC events (structpb) follow the same rules.
// These rules are the contract:
//
//   - An event is a flat JSON object keyed by field name. A key names a column when it equals the
//     column's name, or else equals it case-insensitively (as dataset.Dataset.Column matches).
//     Unknown keys are ignored, whatever their value. For each column an exact key wins over
//     case-insensitive ones; two keys of the same rank (the same key twice, or "Page" and "PAGE"
//     without "page") reject the event, because which one to keep would be arbitrary.
//   - The time column is required: an RFC 3339 string with an offset ("Z" or ±hh:mm; fractional
//     seconds of any length, lower-case t and z allowed; stricter than time.Parse, which also
//     takes one-digit hours or offsets such as +24:00), or epoch milliseconds as a JSON number
//     that is an integer. Times are stored as microseconds since the epoch, UTC, truncated, and
//     must fall in years 1970..9999 UTC.
//   - A timestamp column takes the same forms; null or missing is null.
//   - string takes a JSON string (valid UTF-8, at most MaxStringBytes bytes after unescaping).
//     int takes a JSON number denoting an integer that fits in int64, decided exactly from the
//     literal (1e3 and 2.0 are accepted, 1.5 and 1e30 are not). float takes any JSON number
//     within float64's range, rounded to nearest. bool takes true or false. Nothing is coerced:
//     "12" is not an int and 12 is not a string.
//   - null, or a missing key, makes the column null (ColumnBuf.Null, allocated only when some
//     row is null; the typed slice holds the zero value so every slice stays Batch.N long).
//   - A refused event adds nothing to the batch. When an event has several problems, the reason
//     given is the one for its first column in table order (time first), so JSON and structpb,
//     whose map has no order, report the same reason.
//   - Array bodies: the body must be exactly one well-formed JSON array (RFC 8259; nesting up to
//     10000 levels, as encoding/json) or the whole call fails; an element that is not an object
//     is a rejection. NDJSON bodies: lines are split on \n, lines holding only whitespace are
//     skipped and not counted, and a line that is not one JSON value is a rejection; the rest of
//     the body is still decoded.
//   - structpb events follow the same rules with structpb's types: a number is a float64, so an
//     int must be integral and below 2^63 as a float64, and integers beyond 2^53 arrive already
//     rounded (send json_lines for exact int64); NaN and ±Inf are refused; a nil Value or one
//     with no kind is null; a nil Struct is refused as a null event.
//   - Rejection.Index counts events (array elements, non-blank lines, structs) from indexBase,
//     refused ones included, so accepted + rejected is always the number of events.
//   - More than Limits.MaxEvents events fails the whole call with an error wrapping
//     ErrTooManyEvents, before anything is decoded for NDJSON and structs, and at the first
//     element over the limit for arrays.
//
// Rejection reasons (stable; F is the column's declared name, V a value echoed, shortened to 40
// bytes; reasons are always valid UTF-8, as proto strings must be, because quoted values are
// escaped):
//
//	expected a JSON object, got array|string|number|bool|null
//	invalid JSON: <message> at byte N                                   (NDJSON line; N counts from the line start)
//	field "F": missing; the time column is required                     (time missing or null)
//	field "F": given more than once
//	field "F": expected T, got string|number|bool|object|array          (T: string, int, float, bool, or "RFC 3339 string or epoch milliseconds")
//	field "F": expected int, got non-integral number V
//	field "F": expected RFC 3339 string or epoch milliseconds, got non-integral number V
//	field "F": number V is out of range for int (64-bit)
//	field "F": number V is out of range for float (64-bit)
//	field "F": number V is not finite                                   (structpb NaN or ±Inf)
//	field "F": "V" is not an RFC 3339 time with offset (like 2006-01-02T15:04:05.999Z)
//	field "F": V is outside years 1970..9999                            (V quoted for strings)
//	field "F": string of N bytes is over the limit of 65536 bytes
//	field "F": string is not valid UTF-8
package decode
