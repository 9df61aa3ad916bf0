package rules

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/bitaudit/bitaudit/model"
)

// Rule scopes: what one finding of the rule is about.
const (
	ScopeHost      = "host"
	ScopeVolume    = "volume"
	ScopeProtector = "protector"
	// ScopeDirectory: a computer the directory lists, audited or not.
	ScopeDirectory = "directory"
)

// Relations between a rule and a framework control.
const (
	// Supports: the rule checks part of what the control asks for.
	Supports = "supports"
	// Satisfies: on this host, the rule checks the control's technical requirement in full.
	Satisfies = "satisfies"
)

// A Rule is one check: what it looks for, why it matters, how to fix it and
// which controls it serves. Rules are data; the JSON encoding is what
// `bitaudit rules list --format json` prints.
type Rule struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Severity is the default severity; some rules grade individual findings
	// (see Rationale), and a policy may override it.
	Severity    model.Severity `json:"severity"`
	Scope       string         `json:"scope"`
	Rationale   string         `json:"rationale"`
	Remediation string         `json:"remediation"`
	References  []Reference    `json:"references"`
	// Custom is true for rules defined in a policy file.
	Custom bool `json:"custom,omitempty"`
	// Expr is the CEL expression of a custom rule.
	Expr string `json:"expr,omitempty"`

	check checkFunc
	// emits lists the other rules whose findings check produces.
	emits []string
	// onLocked: the check also runs on locked volumes.
	onLocked bool
}

// A Reference ties a rule to a framework control.
type Reference struct {
	Framework string `json:"framework"`
	Control   string `json:"control"`
	// Relation is [Supports] or [Satisfies].
	Relation string `json:"relation"`
}

func (r Reference) String() string {
	return fmt.Sprintf("%s %s (%s)", r.Framework, r.Control, r.Relation)
}

// FormatTable writes rules as an aligned text table, one rule per line.
func FormatTable(w io.Writer, rules []Rule) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tSCOPE\tTITLE\tREFERENCES")
	for _, r := range rules {
		refs := make([]string, len(r.References))
		for i, ref := range r.References {
			refs[i] = ref.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Scope, r.Title, strings.Join(refs, "; "))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write rules table: %w", err)
	}
	return nil
}
