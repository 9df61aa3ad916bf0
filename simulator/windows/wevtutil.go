package windows

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// wevtutilIDQuery is the one XPath form the emulation evaluates: event IDs
// under System, e.g. *[System[(EventID=783 or EventID=784)]] (Microsoft
// Learn, "Consuming Events": Windows Event Log supports a subset of XPath
// 1.0; *[System[(Level <= 3) and …]] is its own example form).
var (
	wevtutilIDQuery = regexp.MustCompile(`^\*\[System\[\(?\s*(EventID\s*=\s*\d+(\s+or\s+EventID\s*=\s*\d+)*)\s*\)?\]\]$`)
	wevtutilID      = regexp.MustCompile(`\d+`)
)

// wevtutil runs `wevtutil qe LOG [/q:XPATH] [/c:N] [/rd:true] [/f:xml]`
// (Microsoft Learn, "wevtutil"): the events of LOG, newest first with
// /rd:true, each rendered as EvtRender(EvtRenderEventXml) renders it, the
// same text EventLogRecord.ToXml() returns, one event per line [? the
// separator between events is not documented]. Other subcommands, formats
// and query forms are not emulated and fail. Error texts are "Failed to
// read events." followed by the Win32 message of the error, with the
// error code as exit status [? wording of the prefix not confirmed].
func (m *Machine) wevtutil(args []string) (stdout, stderr string, code int) {
	fail := func(msg string, code int) (string, string, int) {
		return "", "Failed to read events. " + msg + "\r\n", code
	}
	if len(args) < 2 || !strings.EqualFold(args[0], "qe") && !strings.EqualFold(args[0], "query-events") {
		return "", "The parameter is incorrect.\r\n", 87
	}
	log := args[1]
	var ids []int64
	count := -1
	newest := false
	for _, a := range args[2:] {
		name, val, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "/"), "-"), ":")
		switch strings.ToLower(name) {
		case "q", "query":
			mm := wevtutilIDQuery.FindStringSubmatch(val)
			if mm == nil {
				return fail("The specified query is invalid.", 15001)
			}
			for _, s := range wevtutilID.FindAllString(mm[1], -1) {
				n, _ := strconv.ParseInt(s, 10, 64)
				ids = append(ids, n)
			}
		case "c", "count":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return "", "The parameter is incorrect.\r\n", 87
			}
			count = n
		case "rd", "reversedirection":
			newest = strings.EqualFold(val, "true")
		case "f", "format":
			if !strings.EqualFold(val, "xml") {
				return "", "The parameter is incorrect.\r\n", 87
			}
		default:
			return "", "The parameter is incorrect.\r\n", 87
		}
	}
	switch {
	case !strings.EqualFold(log, bitlockerChannel) || m.NoBitLockerFeature:
		return fail("The specified channel could not be found.", 15007)
	case m.NotAdmin:
		// The channel's default ACL grants read to administrators and
		// system [? the BitLocker Management channel's SDDL is not documented].
		return fail("Access is denied.", 5)
	}
	var b strings.Builder
	n := 0
	emit := func(e Event) {
		if (len(ids) == 0 || slices.Contains(ids, int64(e.ID))) && (count < 0 || n < count) {
			b.WriteString(m.eventXML(e) + "\r\n")
			n++
		}
	}
	if newest {
		for i := len(m.Events) - 1; i >= 0; i-- {
			emit(m.Events[i])
		}
	} else {
		for _, e := range m.Events {
			emit(e)
		}
	}
	return b.String(), "", 0
}
