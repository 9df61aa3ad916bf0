package entra

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/bitaudit/bitaudit/simulator/windows"
)

// Options configure the simulated Entra ID.
type Options struct {
	// Addr is the listen address; default 127.0.0.1:0 (loopback only).
	Addr string
	// TLS holds the server certificate (required: MSAL accepts only https).
	TLS *tls.Config
	// TenantID and ClientID identify the one application that can sign in,
	// with ClientSecret or, when set, a certificate assertion signed by the
	// key of ClientCertificate.
	TenantID          string
	ClientID          string
	ClientSecret      string
	ClientCertificate *x509.Certificate
	Machines          []*windows.Machine
	// PageSize is the number of keys per page (default 2).
	PageSize int
	// ThrottleEvery answers every Nth Graph request with 429 (0: never),
	// with a Retry-After of RetryAfter seconds.
	ThrottleEvery int
	RetryAfter    int
}

// A Server is a running Entra ID stand-in.
type Server struct {
	// URL is https://127.0.0.1:port; it is both the authority host and the
	// Graph endpoint.
	URL string
	// GraphRequests counts Graph requests, Throttled those answered 429,
	// TokenRequests the token requests and Tokens the tokens issued.
	GraphRequests, Throttled, TokenRequests, Tokens counter

	opts Options
	srv  *http.Server

	byDevice map[string]*windows.Machine   // lower-case deviceId -> machine
	foreign  map[string][]*windows.Machine // deviceId of another device object -> machines with keys there
	// joined are the Entra-joined machines by the fold keys of their
	// deviceId and displayName (machines' identities are set when the
	// fleet is built), for $filter lookups.
	joined map[string][]*windows.Machine

	keysMu sync.Mutex
	keys   *keyIndex // nil until first read

	mu     sync.Mutex
	tokens map[string]bool
	start  time.Time // account ages count back from here
}

type counter struct {
	mu sync.Mutex
	n  int
}

// Load returns the count.
func (c *counter) Load() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

func (c *counter) add() int { c.mu.Lock(); defer c.mu.Unlock(); c.n++; return c.n }

// Start serves the simulated Entra ID until ctx ends or Close is called.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.TLS == nil {
		return nil, errors.New("entra: a TLS configuration is required")
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("entra: listen address %s is not loopback", o.Addr)
	}
	s := NewServer(o)
	l, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	s.URL = "https://" + l.Addr().String()
	// A copy: ServeTLS adds its protocols to the config it is given, which
	// the caller may share with another server (sources.go: the directory).
	s.srv = &http.Server{Handler: s, TLSConfig: o.TLS.Clone(), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.ServeTLS(l, "", "")
	context.AfterFunc(ctx, func() { s.Close() })
	return s, nil
}

// NewServer returns the handler without a listener (set URL before use,
// as httptest does).
func NewServer(o Options) *Server {
	if o.PageSize <= 0 {
		o.PageSize = 2
	}
	s := &Server{
		opts:     o,
		byDevice: map[string]*windows.Machine{},
		foreign:  map[string][]*windows.Machine{},
		joined:   map[string][]*windows.Machine{},
		tokens:   map[string]bool{},
		start:    time.Now().UTC(),
	}
	for _, m := range o.Machines {
		m.Mu.Lock()
		if a := m.Identity(); a.AzureAdJoined && a.DeviceID != "" {
			s.byDevice[strings.ToLower(a.DeviceID)] = m
			for _, k := range []string{"deviceId " + foldKey(a.DeviceID), "displayName " + foldKey(a.ComputerName)} {
				if !contains(s.joined[k], m) {
					s.joined[k] = append(s.joined[k], m)
				}
			}
		}
		for _, k := range m.Escrow.Entra {
			if k.DeviceObject != "" {
				d := DeviceIDFor(k.DeviceObject)
				if !contains(s.foreign[d], m) {
					s.foreign[d] = append(s.foreign[d], m)
				}
			}
		}
		m.Mu.Unlock()
	}
	return s
}

func contains(ms []*windows.Machine, m *windows.Machine) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

// DeviceIDFor returns the deviceId of a DeviceObject: itself when it is a
// GUID, else a GUID derived from the name.
func DeviceIDFor(obj string) string {
	o := strings.ToLower(strings.Trim(obj, "{}"))
	if guidRE.MatchString(o) {
		return o
	}
	h := sha1.Sum([]byte(obj))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Close stops the server.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Close()
}

const keysPath = "/v1.0/informationProtection/bitlocker/recoveryKeys"

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/"+s.opts.TenantID+"/v2.0/.well-known/openid-configuration" && r.Method == http.MethodGet:
		s.discovery(w)
	case p == "/"+s.opts.TenantID+"/oauth2/v2.0/token" && r.Method == http.MethodPost:
		s.token(w, r)
	case p == keysPath || strings.HasPrefix(p, keysPath+"/"), p == devicesPath:
		s.graph(w, r)
	default:
		graphError(w, http.StatusNotFound, "NotFound", "no such resource")
	}
}

// discovery serves the OpenID configuration MSAL resolves the token
// endpoint from (apps/internal/oauth/resolvers.go: "{authority}v2.0/.well-known/openid-configuration";
// the issuer must share the authority's scheme and host).
func (s *Server) discovery(w http.ResponseWriter) {
	base := s.URL + "/" + s.opts.TenantID
	writeJSON(w, http.StatusOK, map[string]any{
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"issuer":                                base + "/v2.0",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"tenant_region_scope":                   "NA",
	})
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.TokenRequests.add()
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: malformed body")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: only client_credentials")
		return
	}
	if f.Get("client_id") != s.opts.ClientID {
		tokenError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016: application not found in the directory")
		return
	}
	// MSAL adds "openid offline_access profile" to the requested scope.
	if scope := f.Get("scope"); !slices.Contains(strings.Fields(scope), s.URL+"/.default") {
		tokenError(w, http.StatusBadRequest, "invalid_scope", "AADSTS70011: scope "+strconv.Quote(scope)+" is not valid")
		return
	}
	switch {
	case f.Get("client_secret") != "":
		if s.opts.ClientSecret == "" || f.Get("client_secret") != s.opts.ClientSecret {
			tokenError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
			return
		}
	case f.Get("client_assertion") != "":
		if err := s.checkAssertion(f.Get("client_assertion"), s.URL+"/"+s.opts.TenantID+"/oauth2/v2.0/token"); err != nil {
			tokenError(w, http.StatusUnauthorized, "invalid_client", "AADSTS700027: client assertion: "+err.Error())
			return
		}
	default:
		tokenError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000216: client_assertion or client_secret is required")
		return
	}
	b := make([]byte, 24)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	s.Tokens.add()
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

// checkAssertion verifies a client assertion JWT (RS256 or PS256) against
// the configured certificate: signature, audience, issuer, expiry.
func (s *Server) checkAssertion(jwt, audience string) error {
	if s.opts.ClientCertificate == nil {
		return errors.New("no certificate registered")
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return errors.New("not a JWT")
	}
	hdrJSON, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	claimsJSON, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return errors.New("bad encoding")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Aud any    `json:"aud"`
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
		JTI string `json:"jti"`
	}
	if json.Unmarshal(hdrJSON, &hdr) != nil || json.Unmarshal(claimsJSON, &claims) != nil {
		return errors.New("bad JSON")
	}
	pub, ok := s.opts.ClientCertificate.PublicKey.(*rsa.PublicKey)
	if !ok {
		return errors.New("certificate key is not RSA")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch hdr.Alg {
	case "RS256":
		err1 = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
	case "PS256":
		err1 = rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, nil)
	default:
		return fmt.Errorf("alg %q not supported", hdr.Alg)
	}
	if err1 != nil {
		return errors.New("signature does not verify")
	}
	aud, _ := claims.Aud.(string)
	if !strings.EqualFold(aud, audience) || claims.Iss != s.opts.ClientID || claims.Sub != s.opts.ClientID {
		return errors.New("wrong audience, issuer or subject")
	}
	if time.Unix(claims.Exp, 0).Before(time.Now()) {
		return errors.New("expired")
	}
	return nil
}

// A recoveryKey is Graph's bitlockerRecoveryKey, v1.0 shape (volumeType a string).
type recoveryKey struct {
	ID         string `json:"id"`
	Created    string `json:"createdDateTime"`
	DeviceID   string `json:"deviceId"`
	VolumeType string `json:"volumeType"`
	Key        string `json:"key,omitempty"`
}

var filterRE = regexp.MustCompile(`^\s*deviceId\s+eq\s+'([^']*)'\s*$`)

func (s *Server) graph(w http.ResponseWriter, r *http.Request) {
	n := s.GraphRequests.add()
	if r.Method != http.MethodGet {
		graphError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "method not allowed")
		return
	}
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	valid := ok && s.tokens[auth]
	s.mu.Unlock()
	if !valid {
		graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or invalid.")
		return
	}
	if s.opts.ThrottleEvery > 0 && n%s.opts.ThrottleEvery == 0 {
		s.Throttled.add()
		w.Header().Set("Retry-After", strconv.Itoa(s.opts.RetryAfter))
		graphError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests.")
		return
	}
	q := r.URL.Query()
	if strings.Contains(strings.ToLower(q.Get("$select")), "key") {
		graphError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return
	}
	if r.URL.Path == devicesPath {
		s.devices(w, q)
		return
	}
	if id, ok := strings.CutPrefix(r.URL.Path, keysPath+"/"); ok {
		k, found := s.keyByID(strings.ToLower(id))
		if !found {
			graphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+id+"' does not exist.")
			return
		}
		writeJSON(w, http.StatusOK, k)
		return
	}
	var keys []recoveryKey
	if f := q.Get("$filter"); f != "" {
		m := filterRE.FindStringSubmatch(f)
		if m == nil {
			graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property 'deviceId' of resource 'BitlockerRecoveryKey'.")
			return
		}
		keys = s.deviceKeys(strings.ToLower(m[1]))
	} else {
		keys = s.allKeys()
	}
	if keys == nil {
		keys = []recoveryKey{}
	}
	skip, _ := strconv.Atoi(q.Get("$skiptoken"))
	if skip < 0 || skip > len(keys) {
		skip = len(keys)
	}
	end := min(skip+s.opts.PageSize, len(keys))
	page := map[string]any{
		"@odata.context": s.URL + "/v1.0/$metadata#informationProtection/bitlocker/recoveryKeys",
		"value":          keys[skip:end],
	}
	if end < len(keys) {
		next := url.Values{}
		if f := q.Get("$filter"); f != "" {
			next.Set("$filter", f)
		}
		next.Set("$skiptoken", strconv.Itoa(end))
		page["@odata.nextLink"] = s.URL + keysPath + "?" + next.Encode()
	}
	writeJSON(w, http.StatusOK, page)
}

// listDevices serves GET /v1.0/devices without $filter, as an inventory
// lists them: one device per Entra-joined or hybrid-joined machine, in
// deviceId order, $top per page (default 100, at most 999, as Graph pages
// directory objects), @odata.nextLink after.
func (s *Server) listDevices(w http.ResponseWriter, q url.Values) {
	var out []device
	for _, m := range s.opts.Machines {
		m.Mu.Lock()
		if a := m.Identity(); a.AzureAdJoined && a.DeviceID != "" {
			d := device{
				ID:              DeviceIDFor("device object " + a.DeviceID),
				DeviceID:        strings.ToLower(a.DeviceID),
				DisplayName:     a.ComputerName,
				OperatingSystem: "Windows",
				// Graph reports the full build, e.g. 10.0.22631.4317.
				OperatingSystemVersion: m.OS.Version + ".0",
				AccountEnabled:         !m.Record.Disabled,
				TrustType:              "AzureAd",
			}
			if a.DomainJoined {
				d.TrustType = "ServerAd"
			}
			if m.Record.LogonAge > 0 {
				t := s.start.Add(-m.Record.LogonAge).Format(time.RFC3339)
				d.LastSignIn = &t
			}
			out = append(out, d)
		}
		m.Mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DeviceID < out[j].DeviceID })
	top := 100
	if t, err := strconv.Atoi(q.Get("$top")); err == nil && t > 0 {
		top = min(t, 999)
	}
	skip, _ := strconv.Atoi(q.Get("$skiptoken"))
	if skip < 0 || skip > len(out) {
		skip = len(out)
	}
	end := min(skip+top, len(out))
	page := map[string]any{
		"@odata.context": s.URL + "/v1.0/$metadata#devices",
		"value":          append([]device{}, out[skip:end]...),
	}
	if end < len(out) {
		next := url.Values{}
		for _, k := range []string{"$select", "$top"} {
			if v := q.Get(k); v != "" {
				next.Set(k, v)
			}
		}
		next.Set("$skiptoken", strconv.Itoa(end))
		page["@odata.nextLink"] = s.URL + devicesPath + "?" + next.Encode()
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) machineKeys(m *windows.Machine, device string) []recoveryKey {
	m.Mu.Lock()
	defer m.Mu.Unlock()
	var out []recoveryKey
	for _, k := range m.Escrow.Entra {
		d := strings.ToLower(m.Identity().DeviceID)
		if k.DeviceObject != "" {
			d = DeviceIDFor(k.DeviceObject)
		}
		if d == "" || device != "" && d != device {
			continue
		}
		out = append(out, recoveryKey{
			ID:         strings.ToLower(strings.Trim(k.ProtectorID, "{}")),
			Created:    k.Created.UTC().Format(time.RFC3339),
			DeviceID:   d,
			VolumeType: strconv.Itoa(k.VolumeType),
		})
	}
	return out
}

func (s *Server) deviceKeys(device string) []recoveryKey {
	var out []recoveryKey
	if m := s.byDevice[device]; m != nil {
		out = append(out, s.machineKeys(m, device)...)
	}
	for _, m := range s.foreign[device] {
		if m != s.byDevice[device] {
			out = append(out, s.machineKeys(m, device)...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// A keyIndex is every recovery key the tenant holds, as of one escrow
// generation (windows.EscrowGeneration).
type keyIndex struct {
	gen  uint64
	all  []recoveryKey          // by ID
	byID map[string]recoveryKey // the first machine's, in fleet order
}

// index returns the keys as the machines' escrow holds them now: built
// again only when an escrow changed, not for every page of a listing of
// thousands of keys.
func (s *Server) index() *keyIndex {
	gen := windows.EscrowGeneration()
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if s.keys != nil && s.keys.gen == gen {
		return s.keys
	}
	x := &keyIndex{gen: gen, byID: map[string]recoveryKey{}}
	for _, m := range s.opts.Machines {
		for _, k := range s.machineKeys(m, "") {
			x.all = append(x.all, k)
			if _, dup := x.byID[k.ID]; !dup {
				x.byID[k.ID] = k
			}
		}
	}
	sort.Slice(x.all, func(i, j int) bool { return x.all[i].ID < x.all[j].ID })
	s.keys = x
	return x
}

func (s *Server) allKeys() []recoveryKey { return s.index().all }

func (s *Server) keyByID(id string) (recoveryKey, bool) {
	k, ok := s.index().byID[id]
	return k, ok
}

// foldKey is s case-folded so that two strings have the same key exactly
// when strings.EqualFold says they are equal: each rune becomes the
// smallest of its simple case-folding orbit.
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		low := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			low = min(low, f)
		}
		b.WriteRune(low)
	}
	return b.String()
}

const devicesPath = "/v1.0/devices"

// A device is Graph's device resource, the properties an auditor reads
// (https://learn.microsoft.com/en-us/graph/api/resources/device): trustType
// is "AzureAd" for an Entra-joined device, "ServerAd" for a hybrid-joined
// one (domain-joined, registered by Entra Connect), "Workplace" for a
// registered personal device.
type device struct {
	ID                     string `json:"id"`
	DeviceID               string `json:"deviceId"`
	DisplayName            string `json:"displayName"`
	OperatingSystem        string `json:"operatingSystem"`
	OperatingSystemVersion string `json:"operatingSystemVersion"`
	TrustType              string `json:"trustType"`
	AccountEnabled         bool   `json:"accountEnabled"`
	// LastSignIn is approximateLastSignInDateTime (RFC 3339), nil when never.
	LastSignIn *string `json:"approximateLastSignInDateTime"`
}

var deviceFilterRE = regexp.MustCompile(`^\s*(deviceId|displayName)\s+eq\s+'((?:[^']|'')*)'\s*$`)

// devices answers GET /v1.0/devices (all, paged: listDevices), or with
// $filter=deviceId eq '…' or
// displayName eq '…' (both supported by Graph's device list, eq on
// displayName compares case-insensitively, as Entra ID does), from each
// Entra-joined machine's account; other queries are refused as Graph
// refuses unsupported filters. The list is one page: an exact filter
// matches few devices.
func (s *Server) devices(w http.ResponseWriter, q url.Values) {
	if q.Get("$filter") == "" {
		s.listDevices(w, q)
		return
	}
	m := deviceFilterRE.FindStringSubmatch(q.Get("$filter"))
	if m == nil {
		graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for resource 'Device'.")
		return
	}
	want := strings.ReplaceAll(m[2], "''", "'")
	out := []device{}
	for _, mc := range s.joined[m[1]+" "+foldKey(want)] {
		mc.Mu.Lock()
		a, osv := mc.Identity(), mc.OS.Version
		mc.Mu.Unlock()
		if !a.AzureAdJoined || a.DeviceID == "" {
			continue
		}
		if m[1] == "deviceId" && !strings.EqualFold(a.DeviceID, want) || m[1] == "displayName" && !strings.EqualFold(a.ComputerName, want) {
			continue
		}
		trust := "AzureAd"
		if a.DomainJoined {
			trust = "ServerAd"
		}
		out = append(out, device{ID: DeviceIDFor("device object " + a.DeviceID), DeviceID: strings.ToLower(a.DeviceID), DisplayName: a.ComputerName,
			OperatingSystem: "Windows", OperatingSystemVersion: osv, TrustType: trust, AccountEnabled: !mc.Record.Disabled})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DeviceID < out[j].DeviceID })
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": s.URL + "/v1.0/$metadata#devices", "value": out})
}

func graphError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code": code, "message": msg,
		"innerError": map[string]any{"date": "2026-01-01T00:00:00", "request-id": "00000000-0000-0000-0000-000000000000"},
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
