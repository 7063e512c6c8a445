package decode

import (
	"math/rand/v2"
	"testing"
)

func naiveSkipPlain(data []byte, i int) int {
	for i < len(data) && plainStr[data[i]] {
		i++
	}
	return i
}

// TestSkipPlain checks the word-at-a-time scan against the bytewise one: every byte value at
// every position of two words, then random bytes biased towards the interesting ones
// (borrows between neighbouring bytes are what the SWAR tricks get wrong when they do).
func TestSkipPlain(t *testing.T) {
	for b := range 256 {
		for p := range 17 {
			for _, fill := range []byte{'a', 0x80, 0xff, 0x21, 0x01 + 0x20} {
				data := make([]byte, 17)
				for i := range data {
					data[i] = fill
				}
				data[p] = byte(b)
				for start := range 3 {
					if got, want := skipPlain(data, start), naiveSkipPlain(data, start); got != want {
						t.Fatalf("% x from %d: %d, want %d", data, start, got, want)
					}
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	pick := []byte{0, 1, 0x1f, 0x20, 0x21, '"', '#', '!', '\\', ']', '[', 0x7f, 0x80, 0x81, 0xa0, 0xdc, 0xff}
	data := make([]byte, 40)
	for range 200000 {
		for i := range data {
			if r.IntN(4) == 0 {
				data[i] = byte(r.IntN(256))
			} else {
				data[i] = pick[r.IntN(len(pick))]
			}
		}
		start := r.IntN(len(data))
		if got, want := skipPlain(data, start), naiveSkipPlain(data, start); got != want {
			t.Fatalf("% x from %d: %d, want %d", data, start, got, want)
		}
	}
}

// TestUnescape pins escape and surrogate handling to encoding/json's (FuzzJSON compares the
// two on everything else).
func TestUnescape(t *testing.T) {
	for raw, want := range map[string]string{
		`plain`:              "plain",
		`a\"b`:               `a"b`,
		`\u00e9\u4e16`:       "é世",
		`\ud83d\ude00`:       "😀",
		`\ud83d`:             "\ufffd",
		`\ud83dx`:            "\ufffdx",
		`\ude00\ud83d`:       "\ufffd\ufffd",
		`\ud83d\u0041`:       "\ufffdA",
		`\ud83d\ud83d\ude00`: "\ufffd😀",
		`\/\b\f\n\r\t\\`:     "/\b\f\n\r\t\\",
		`\u0000`:             "\x00",
	} {
		if got := string(appendUnescaped(nil, []byte(raw))); got != want {
			t.Errorf("unescape %s = %q, want %q", raw, got, want)
		}
	}
}
