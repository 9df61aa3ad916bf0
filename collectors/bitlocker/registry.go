package bitlocker

import (
	"encoding/json"
	"regexp"
	"strconv"
)

var valueNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// DecodeFVEPolicy decodes `Get-ItemProperty HKLM:\SOFTWARE\Policies\Microsoft\FVE
// | ConvertTo-Json`: integer values become the policy map, strings and other
// types are ignored. Empty input means the key does not exist (empty map).
func DecodeFVEPolicy(data []byte) (map[string]int64, error) {
	policy := map[string]int64{}
	if len(trimSpace(data)) == 0 {
		return policy, nil
	}
	var raw map[string]json.RawMessage
	if err := unmarshal(data, &raw); err != nil {
		return nil, protocolf("fve: %v", err)
	}
	for name, v := range raw {
		if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
			continue // string, bool, array (REG_SZ, REG_MULTI_SZ, REG_BINARY), null
		}
		if !valueNameRE.MatchString(name) {
			return nil, protocolf("fve: invalid value name")
		}
		// v is a JSON number (the document decoded): as json.Number.Int64.
		i, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return nil, protocolf("fve: %s: not an integer", name)
		}
		policy[name] = i
	}
	return policy, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}
