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
	c, err := newCSVRows(w)
	if err != nil {
		return err
	}
	if err := v.hosts(nil, c.add); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return c.flush()
}

// csvRows writes report.csv one host at a time, in the order of the view
// (WriteAll has the XLSX's pass over the hosts give them).
type csvRows struct {
	bw  *bufio.Writer
	cw  *csv.Writer
	row []string
}

// newCSVRows writes the header.
func newCSVRows(w io.Writer) (*csvRows, error) {
	bw := bufio.NewWriter(w)
	c := &csvRows{bw: bw, cw: csv.NewWriter(bw), row: make([]string, len(csvHeader))}
	if err := c.cw.Write(csvHeader); err != nil {
		return nil, fmt.Errorf("write csv: %w", err)
	}
	return c, nil
}

// add writes h's rows.
func (c *csvRows) add(h *model.HostResult) error {
	for _, f := range sortedFindings(h) {
		waiverID, expires := "", ""
		if f.Waiver != nil {
			waiverID, expires = f.Waiver.ID, f.Waiver.Expires.UTC().Format(time.RFC3339)
		}
		c.row = append(c.row[:0], h.Target, computerName(h), string(h.Status), f.Volume, f.ProtectorID, f.RuleID,
			f.Severity.String(), f.Title, f.Message, strconv.FormatBool(f.Waived()), waiverID, expires, f.Remediation)
		for i := range c.row {
			c.row[i] = csvSafe(c.row[i])
		}
		if err := c.cw.Write(c.row); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	return nil
}

func (c *csvRows) flush() error {
	c.cw.Flush()
	if err := c.cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return c.bw.Flush()
}

// csvSafe defuses spreadsheet formula injection (OWASP "CSV Injection"):
// a cell starting with = + - @ tab or CR is prefixed with a single quote.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
