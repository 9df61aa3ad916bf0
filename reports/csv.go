package reports

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/bitaudit/bitaudit/model"
)

// csvHeader is the column set of report.csv.
var csvHeader = []string{
	"target", "computer", "status", "volume", "protector_id", "rule_id", "severity", "title",
	"message", "waived", "waiver_id", "waiver_expires", "remediation",
}

// WriteCSV writes one row per finding (waived ones included, marked) for
// ticketing systems, hosts by target and findings most severe first. Hosts
// that were not audited carry the finding the rules gave them. Cells that a
// spreadsheet would run as a formula are prefixed with a quote.
func WriteCSV(w io.Writer, r *model.Result) error {
	if r == nil {
		return errNilResult
	}
	v, err := newView(r)
	if err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return writeCSV(w, v)
}

func writeCSV(w io.Writer, v *view) error {
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	row := make([]string, len(csvHeader))
	err := v.hosts(nil, func(h *model.HostResult) error {
		for _, f := range sortedFindings(h) {
			waiverID, expires := "", ""
			if f.Waiver != nil {
				waiverID, expires = f.Waiver.ID, f.Waiver.Expires.UTC().Format(time.RFC3339)
			}
			row = append(row[:0], h.Target, computerName(h), string(h.Status), f.Volume, f.ProtectorID, f.RuleID,
				f.Severity.String(), f.Title, f.Message, strconv.FormatBool(f.Waived()), waiverID, expires, f.Remediation)
			for i := range row {
				row[i] = csvSafe(row[i])
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return bw.Flush()
}

// csvSafe defuses spreadsheet formula injection (OWASP "CSV Injection"):
// a cell starting with = + - @ tab or CR is prefixed with a single quote.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
