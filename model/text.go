package model

import (
	"fmt"
	"reflect"
	"unicode"
)

// CheckText rejects host-reported text that would be shown differently from
// what it is: Unicode format characters (category Cf: bidirectional
// overrides and isolates such as U+202E, zero-width joiners, U+FEFF) and
// control characters other than tab. A bidi override in a computer name can
// make "LT-0018" display as another name in every report (CVE-2021-42574,
// "Trojan Source", describes the same trick in source code). It walks every
// string of the facts and volumes, so fields added later are covered too.
func CheckText(facts *HostFacts, volumes []Volume) error {
	if err := checkStrings(reflect.ValueOf(facts), "facts"); err != nil {
		return err
	}
	return checkStrings(reflect.ValueOf(volumes), "volumes")
}

func checkStrings(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkStrings(v.Elem(), path)
	case reflect.String:
		for i, r := range v.String() {
			if (unicode.Is(unicode.Cf, r) || unicode.IsControl(r)) && r != '\t' {
				return fmt.Errorf("the host reported text with the invisible %s character U+%04X in %s (at byte %d): refused, as it could make reports show something else: %w",
					charKind(r), r, path, i, ErrProtocol)
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range v.NumField() {
			if !t.Field(i).IsExported() {
				continue
			}
			if err := checkStrings(v.Field(i), path+"."+t.Field(i).Name); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := checkStrings(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if err := checkStrings(it.Key(), path+" key"); err != nil {
				return err
			}
			if err := checkStrings(it.Value(), fmt.Sprintf("%s[%v]", path, it.Key())); err != nil {
				return err
			}
		}
	}
	return nil
}

func charKind(r rune) string {
	if unicode.IsControl(r) {
		return "control"
	}
	if unicode.Is(unicode.Bidi_Control, r) {
		return "bidirectional-override"
	}
	return "format"
}
