package reports

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"

	"github.com/bitaudit/bitaudit/model"
)

// PDFOptions control [WritePDFWith].
type PDFOptions struct {
	// Font, when set, is a TrueType font (.ttf) every text of the PDF is
	// drawn with instead of the built-in Go font, which covers Latin, Greek
	// and Cyrillic only: for names in Chinese, Japanese, Arabic, …
	Font []byte
	// Warn, when set, receives one line naming the characters the font
	// cannot draw (the PDF also says so on its first page).
	Warn func(string)
}

// CheckPDFFont reports whether b is a TrueType font the PDF writer can
// embed: TrueType outlines (not CFF/OpenType-PostScript) in a single font
// file (not a collection).
func CheckPDFFont(b []byte) error {
	switch {
	case len(b) < 12:
		return errors.New("not a font file")
	case bytes.HasPrefix(b, []byte("ttcf")):
		return errors.New("a font collection (.ttc): extract one font as .ttf")
	case bytes.HasPrefix(b, []byte("OTTO")):
		return errors.New("an OpenType font with PostScript (CFF) outlines: the PDF writer needs TrueType outlines (.ttf)")
	case !bytes.HasPrefix(b, []byte{0, 1, 0, 0}) && !bytes.HasPrefix(b, []byte("true")):
		return errors.New("not a TrueType font file")
	}
	f, err := sfnt.Parse(b)
	if err != nil {
		return fmt.Errorf("not a usable TrueType font: %w", err)
	}
	// All text is drawn with this one font: it must draw ASCII too. A
	// fallback-only font (Droid Sans Fallback) has no Latin letters.
	var buf sfnt.Buffer
	for c := rune(0x21); c < 0x7f; c++ {
		if i, err := f.GlyphIndex(&buf, c); err != nil || i == 0 {
			return fmt.Errorf("has no glyph for %q: all text is drawn with this one font, so it must cover Latin as well as the script you need", c)
		}
	}
	return nil
}

// undrawable is what the PDF's font cannot draw: the characters, in order,
// and where the first of them is.
type undrawable struct {
	runes []rune
	first string
}

func (u *undrawable) String() string {
	if len(u.runes) == 0 {
		return ""
	}
	const show = 8
	var cps []string
	for _, r := range u.runes[:min(show, len(u.runes))] {
		cps = append(cps, fmt.Sprintf("U+%04X", r))
	}
	if len(u.runes) > show {
		cps = append(cps, fmt.Sprintf("and %d more", len(u.runes)-show))
	}
	return fmt.Sprintf("%s the PDF font cannot draw (%s), first in %s; they show as empty boxes: render again with --pdf-font FILE, a TrueType font that covers them",
		plural(len(u.runes), "character", "characters"), strings.Join(cps, ", "), u.first)
}

// A glyphCheck finds the characters of every text of a result that the
// PDF's font has no glyph for: the run's details first, then the hosts'
// texts ([glyphCheck.hosts]), then the waivers and the remediation log
// ([glyphCheck.done]). Only non-ASCII text is looked at:
// the built-in font and any usable text font draw ASCII.
type glyphCheck struct {
	f    *sfnt.Font
	buf  sfnt.Buffer
	seen map[rune]bool
	u    *undrawable
}

func newGlyphCheck(font []byte, r *model.Result) (*glyphCheck, error) {
	if font == nil {
		font = goregular.TTF
	}
	f, err := sfnt.Parse(font)
	if err != nil {
		return nil, fmt.Errorf("parse PDF font: %w", err)
	}
	g := &glyphCheck{f: f, seen: map[rune]bool{}, u: &undrawable{}}
	walkStrings(reflect.ValueOf(r.Run), "the run's "+"details", g.check)
	return g, nil
}

func (g *glyphCheck) check(where, s string) {
	for _, c := range s {
		if c < 0x80 || g.seen[c] {
			continue
		}
		g.seen[c] = true
		if i, err := g.f.GlyphIndex(&g.buf, c); err == nil && i != 0 {
			continue
		}
		if len(g.u.runes) == 0 {
			g.u.first = where
		}
		g.u.runes = append(g.u.runes, c)
	}
}

// hosts checks the characters of the hosts' texts, as a view found them.
func (g *glyphCheck) hosts(rs []placedRune) {
	for _, p := range rs {
		g.check(p.where, string(p.r))
	}
}

func (g *glyphCheck) done(r *model.Result) *undrawable {
	walkStrings(reflect.ValueOf(r.Waivers), "the waivers", g.check)
	walkStrings(reflect.ValueOf(r.Remediation), "the remediation log", g.check)
	slices.Sort(g.u.runes)
	return g.u
}

// walkStrings calls fn with every string reachable from v (map keys
// included) and a description of where it is.
func walkStrings(v reflect.Value, where string, fn func(where, s string)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), where, fn)
		}
	case reflect.String:
		fn(where, v.String())
	case reflect.Struct:
		t := v.Type()
		for i := range v.NumField() {
			if t.Field(i).IsExported() {
				walkStrings(v.Field(i), where+" "+strings.ToLower(t.Field(i).Name), fn)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkStrings(v.Index(i), where, fn)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			walkStrings(it.Key(), where, fn)
			walkStrings(it.Value(), fmt.Sprintf("%s %v", where, it.Key()), fn)
		}
	}
}
