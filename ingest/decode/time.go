package decode

// Time bounds, in seconds since the Unix epoch: years 1970..9999 in UTC. Every backend stores
// that range, and an event outside it is nearly always a unit mistake, not history.
const (
	minUnixSec = 0
	maxUnixSec = 253402300800 // 10000-01-01T00:00:00Z, exclusive
	// maxEpochMs is maxUnixSec in milliseconds, the bound for epoch-millisecond times.
	maxEpochMs = maxUnixSec * 1000
)

// parseRFC3339 parses s as an RFC 3339 §5.6 date-time with a mandatory offset and returns
// seconds since the Unix epoch and the sub-second part in microseconds (truncated). It is
// stricter than time.Parse (which takes one-digit hours, comma fractions and offsets such as
// +24:00) and allocation-free; lower-case t and z are accepted, as the RFC allows. The caller
// checks the year range.
func parseRFC3339[T string | []byte](s T) (sec, micros int64, ok bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' ||
		(s[10] != 'T' && s[10] != 't') {
		return 0, 0, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	second, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || second > 59 {
		return 0, 0, false
	}
	rest := s[19:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			if n <= 6 {
				micros = micros*10 + int64(rest[n]-'0')
			}
			n++
		}
		if n == 1 {
			return 0, 0, false
		}
		for i := n; i <= 6; i++ {
			micros *= 10
		}
		rest = rest[n:]
	}
	var offset int64
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := digits(rest[1:3])
		om, okm := digits(rest[4:6])
		if !okh || !okm || oh > 23 || om > 59 {
			return 0, 0, false
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, 0, false
	}
	sec = daysFromCivil(year, month, day)*86400 + hour*3600 + minute*60 + second - offset
	return sec, micros, true
}

// digits parses a fixed-width run of decimal digits.
func digits[T string | []byte](b T) (int64, bool) {
	var n int64
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func daysIn(month, year int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil counts days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
// algorithm: no tables, no loops, exact for every year handled here).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
