package bitlocker

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/bitaudit/bitaudit/model"
)

// DecodeDsregcmd decodes `dsregcmd /status` text into the join state
// (bitlocker.md §6: AzureAdJoined/EnterpriseJoined/DomainJoined). Names may
// be right-aligned or collapsed before " : ". A missing state line yields
// JoinUnknown; an Entra DeviceId or TenantId that is not a GUID is dropped
// (it is used in directory queries).
func DecodeDsregcmd(data []byte) (model.JoinInfo, error) {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " : ")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		if _, dup := kv[name]; !dup {
			kv[name] = strings.TrimSpace(val)
		}
	}
	if err := sc.Err(); err != nil {
		return model.JoinInfo{}, protocolf("dsregcmd: %v", err)
	}
	var j model.JoinInfo
	yes := func(k string) (bool, bool) {
		switch strings.ToUpper(kv[k]) {
		case "YES":
			return true, true
		case "NO":
			return false, true
		}
		return false, false
	}
	aad, ok1 := yes("AzureAdJoined")
	dom, ok2 := yes("DomainJoined")
	ent, _ := yes("EnterpriseJoined")
	switch {
	case !ok1 || !ok2:
		j.State = model.JoinUnknown
	case aad && dom:
		j.State = model.JoinHybrid
	case aad:
		j.State = model.JoinEntra
	case dom:
		// Includes on-premises DRS join (EnterpriseJoined YES).
		j.State = model.JoinDomain
	case ent:
		j.State = model.JoinUnknown
	default:
		j.State = model.JoinWorkgroup
	}
	if j.InAD() {
		d, err := field("DomainName", kv["DomainName"], 255)
		if err != nil {
			return model.JoinInfo{}, err
		}
		j.DomainName = d
	}
	if j.InEntra() {
		if id := kv["DeviceId"]; guidRE.MatchString(id) {
			j.EntraDeviceID = strings.ToLower(id)
		}
		if id := kv["TenantId"]; guidRE.MatchString(id) {
			j.TenantID = strings.ToLower(id)
		}
	}
	return j, nil
}
