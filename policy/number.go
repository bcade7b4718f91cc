package policy

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// decimal is a JSON number held exactly as its decimal text says: 0.digits × 10^exp, with
// digits free of leading and trailing zeros ("" is zero). OPA compares numbers exactly, so
// the reference does too: a float, even a 512-bit one, rounds "500.000…0001" (200 digits)
// to 500 and would allow what OPA sends for approval. Comparing digits costs no more than
// reading them, whatever the exponent ("1e999999999" allocates nothing).
type decimal struct {
	neg    bool
	digits string
	exp    int64
}

// maxExponent bounds exponents so that sums of them cannot overflow; every exponent beyond
// it compares as it (OPA refuses such numbers in input, and a policy cannot hold them).
const maxExponent = 1 << 60

// number reads a decoded JSON number (json.Number, float64 or int) as a decimal.
func number(v any) (decimal, bool) {
	switch n := v.(type) {
	case float64:
		return parseDecimal(strconv.FormatFloat(n, 'g', -1, 64))
	case int:
		return parseDecimal(strconv.Itoa(n))
	case json.Number:
		return parseDecimal(n.String())
	}
	return decimal{}, false
}

// bigOf returns a policy number as number() would read it from data.json.
func bigOf(f float64) decimal { n, _ := number(f); return n }

// parseDecimal parses the JSON number grammar, -?digits(.digits)?([eE][+-]?digits)?, leading
// zeros allowed.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if strings.HasPrefix(s, "-") {
		d.neg, s = true, s[1:]
	}
	mant, expText, hasExp := strings.Cut(strings.ToLower(s), "e")
	whole, frac, _ := strings.Cut(mant, ".")
	if whole == "" || !allDigits(whole) || !allDigits(frac) || strings.HasSuffix(mant, ".") {
		return decimal{}, false
	}
	var e int64
	if hasExp {
		sign := int64(1)
		switch {
		case strings.HasPrefix(expText, "-"):
			sign, expText = -1, expText[1:]
		case strings.HasPrefix(expText, "+"):
			expText = expText[1:]
		}
		if expText == "" || !allDigits(expText) {
			return decimal{}, false
		}
		for _, c := range expText {
			if e = e*10 + int64(c-'0'); e > maxExponent {
				e = maxExponent
				break
			}
		}
		e *= sign
	}
	digits := whole + frac
	lead := len(digits) - len(strings.TrimLeft(digits, "0"))
	d.digits = strings.TrimRight(digits[lead:], "0")
	d.exp = e + int64(len(whole)) - int64(lead)
	if d.digits == "" {
		return decimal{}, true // zero, whatever its sign
	}
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Sign returns -1, 0 or +1.
func (d decimal) Sign() int {
	switch {
	case d.digits == "":
		return 0
	case d.neg:
		return -1
	}
	return 1
}

// Cmp compares d and o exactly: -1, 0 or +1.
func (d decimal) Cmp(o decimal) int {
	if s, t := d.Sign(), o.Sign(); s != t || s == 0 {
		return compareInts(int64(s), int64(t))
	}
	c := compareInts(d.exp, o.exp)
	if c == 0 {
		// Same magnitude order: digit strings without trailing zeros compare as text.
		c = strings.Compare(d.digits, o.digits)
	}
	if d.neg {
		return -c
	}
	return c
}

func compareInts(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// elapsed returns now - start, saturated at the bounds of time.Duration: int64 nanoseconds
// wrap when the two are more than ~292 years apart (a session "started" in 1677 would look
// young), and a saturated difference still compares correctly with any duration.
func elapsed(nowNS, startNS int64) time.Duration {
	return time.Unix(0, nowNS).Sub(time.Unix(0, startNS))
}
