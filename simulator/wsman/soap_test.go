package wsman

import (
	"context"
	"testing"
	"time"
)

const seedCreate = `<?xml version="1.0" encoding="utf-8" ?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><env:Header><a:To>http://127.0.0.1:5985/wsman</a:To><w:MaxEnvelopeSize mustUnderstand="true">153600</w:MaxEnvelopeSize><w:OperationTimeout>PT60S</w:OperationTimeout><a:MessageID>uuid:d00059e8-57d6-4035-ad8d-3edc495da163</a:MessageID><a:Action mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</a:Action><w:ResourceURI mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI><w:OptionSet><w:Option Name="WINRS_CODEPAGE">65001</w:Option></w:OptionSet></env:Header><env:Body><rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams></rsp:Shell></env:Body></env:Envelope>`

const seedCommand = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header><a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command</a:Action><w:SelectorSet><w:Selector Name="ShellId">X</w:Selector></w:SelectorSet><w:OperationTimeout>PT0.001S</w:OperationTimeout></s:Header><s:Body><rsp:CommandLine><rsp:Command><![CDATA[hostname]]></rsp:Command><rsp:Arguments>a</rsp:Arguments></rsp:CommandLine></s:Body></s:Envelope>`

func TestParseRequest(t *testing.T) {
	req, err := parseRequest([]byte(seedCreate))
	if err != nil {
		t.Fatal(err)
	}
	if req.Action != actionCreate || req.MessageID != "uuid:d00059e8-57d6-4035-ad8d-3edc495da163" ||
		req.MaxEnvelopeSize != 153600 || req.OperationTimeout != time.Minute ||
		req.ResourceURI != resourceCmd || req.Options["WINRS_CODEPAGE"] != "65001" {
		t.Errorf("parsed %+v", req)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"PT60S": time.Minute, "PT60.000S": time.Minute, "PT2H": 2 * time.Hour, "P0DT0H1M0S": time.Minute,
		"PT0.5S": 500 * time.Millisecond, "P1D": 24 * time.Hour,
	} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "P", "60S", "P1Y", "PTS", "PT1X", "PT1.2.3S", "P1H"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) accepted", in)
		}
	}
	if got := formatDuration(90061 * time.Second); got != "P1DT1H1M1S" {
		t.Errorf("formatDuration = %q", got)
	}
}

// FuzzRequest feeds arbitrary bodies to the parser and the dispatcher.
func FuzzRequest(f *testing.F) {
	f.Add([]byte(seedCreate))
	f.Add([]byte(seedCommand))
	f.Add([]byte("<a><b>"))
	h, err := NewHost(Config{User: "u", Password: "p", AllowBasic: true, MaxTimeout: time.Millisecond,
		Runner: RunnerFunc(func(context.Context, Invocation) Output { return Output{} })})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { h.Close() })
	f.Fuzz(func(t *testing.T, body []byte) {
		if req, err := parseRequest(body); err == nil && req.Body == nil {
			t.Fatal("request without body")
		}
		rep := h.handle(context.Background(), body, peer{user: "u", ip: "127.0.0.1", address: "http://h/wsman"})
		if rep.status != 200 && rep.status != 500 {
			t.Fatalf("status %d", rep.status)
		}
	})
}
