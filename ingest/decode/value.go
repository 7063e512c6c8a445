package decode

import (
	"math"
	"strconv"
)

// numProblem says why a number does not fit the column's type.
type numProblem uint8

const (
	numOK numProblem = iota
	numNotIntegral
	numOutOfRange
)

// jsonInt converts a validated JSON number literal to int64 exactly: 1e3 and 2.0 are the
// integers they denote, and no float64 round trip turns 9007199254740993 into its neighbour or
// lets 9223372036854775808 wrap.
func jsonInt(num []byte) (int64, numProblem) {
	neg := num[0] == '-'
	i := 0
	if neg {
		i = 1
	}
	// Fast path: a plain integer of at most 18 digits cannot overflow.
	j := i
	for j < len(num) && isDigit(num[j]) {
		j++
	}
	if j == len(num) && j-i <= 18 {
		var v int64
		for _, c := range num[i:] {
			v = v*10 + int64(c-'0')
		}
		if neg {
			v = -v
		}
		return v, numOK
	}
	return jsonIntSlow(num[i:], neg)
}

// jsonIntSlow handles fractions, exponents and long digit runs by reading the literal as
// 0.d₁d₂…dₙ × 10^point over its significant digits.
func jsonIntSlow(num []byte, neg bool) (int64, numProblem) {
	i := 0
	for i < len(num) && isDigit(num[i]) {
		i++
	}
	intPart := num[:i]
	var frac []byte
	if i < len(num) && num[i] == '.' {
		i++
		start := i
		for i < len(num) && isDigit(num[i]) {
			i++
		}
		frac = num[start:i]
	}
	var exp int64
	if i < len(num) { // 'e' or 'E'
		i++
		expNeg := false
		if num[i] == '+' || num[i] == '-' {
			expNeg = num[i] == '-'
			i++
		}
		for ; i < len(num); i++ {
			if exp < 1<<32 { // saturate: anything this large is out of range or zero anyway
				exp = exp*10 + int64(num[i]-'0')
			}
		}
		if expNeg {
			exp = -exp
		}
	}
	nd := len(intPart) + len(frac)
	digit := func(k int) byte {
		if k < len(intPart) {
			return intPart[k]
		}
		return frac[k-len(intPart)]
	}
	first := 0
	for first < nd && digit(first) == '0' {
		first++
	}
	if first == nd {
		return 0, numOK
	}
	nsig := int64(nd - first)
	point := int64(len(intPart)) + exp - int64(first)
	// Digits at or after the point are the fraction; the first significant one is non-zero,
	// so point <= 0 is always non-integral.
	for k := max(point, 0); k < nsig; k++ {
		if digit(first+int(k)) != '0' {
			return 0, numNotIntegral
		}
	}
	if point > 19 {
		return 0, numOutOfRange
	}
	var u uint64 // 19 decimal digits always fit in uint64
	for k := int64(0); k < point; k++ {
		u *= 10
		if k < nsig {
			u += uint64(digit(first+int(k)) - '0')
		}
	}
	switch {
	case neg && u == 1<<63:
		return math.MinInt64, numOK
	case u > math.MaxInt64:
		return 0, numOutOfRange
	case neg:
		return -int64(u), numOK
	}
	return int64(u), numOK
}

// jsonFloat converts a validated JSON number literal to the nearest float64; false when it is
// beyond float64's range (strconv reports that as ±Inf).
func jsonFloat(num []byte) (float64, bool) {
	f, err := strconv.ParseFloat(string(num), 64) // string(num) does not escape: no allocation
	return f, err == nil
}

// floatInt converts a structpb number (always a float64) to int64 when it is integral and fits.
func floatInt(f float64) (int64, numProblem) {
	switch {
	case f != math.Trunc(f):
		return 0, numNotIntegral
	case f < -(1<<63) || f >= 1<<63:
		return 0, numOutOfRange
	}
	return int64(f), numOK
}

// formatFloat renders a structpb number for a reason as JavaScript would: without an exponent
// from 1e-6 to 1e21, so epoch milliseconds read as such.
func formatFloat(f float64) string {
	if a := math.Abs(f); a == 0 || a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// timeFromEpochMs checks an epoch-millisecond time and converts it to microseconds.
func timeFromEpochMs(ms int64) (int64, bool) {
	if ms < minUnixSec*1000 || ms >= maxEpochMs {
		return 0, false
	}
	return ms * 1000, true
}

// timeFromRFC3339 parses and range-checks an RFC 3339 time; ok reports the syntax, inRange the
// year bounds.
func timeFromRFC3339[T string | []byte](s T) (micros int64, ok, inRange bool) {
	sec, us, ok := parseRFC3339(s)
	if !ok {
		return 0, false, false
	}
	if sec < minUnixSec || sec >= maxUnixSec {
		return 0, true, false
	}
	return sec*1e6 + us, true, true
}
