package escrow

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/bitaudit/bitaudit/model"
)

// recoveryKeysPath is the Graph v1.0 collection of bitlockerRecoveryKey
// objects (bitlocker.md §5; microsoft-graph-docs bitlocker-list-recoverykeys.md).
const recoveryKeysPath = "/v1.0/informationProtection/bitlocker/recoveryKeys"

// Graph retry bounds for 429 and 503 answers.
const (
	maxGraphRetries = 5
	maxRetryAfter   = time.Minute
)

// userAgent is sent on every Graph request; the Graph docs mark User-Agent required.
const userAgent = "bitaudit-escrow/1"

// A graphKey is a bitlockerRecoveryKey without its key.
type graphKey struct {
	ID         string     `json:"id"`
	Created    time.Time  `json:"createdDateTime"`
	DeviceID   string     `json:"deviceId"`
	VolumeType volumeType `json:"volumeType"`
}

// volumeType is Graph's volumeType, which v1.0 examples show as a string
// ("1") and beta as a number (bitlocker.md §5): both are accepted.
type volumeType int

func (v *volumeType) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	switch s {
	case "null", "":
		*v = 0
		return nil
	case "operatingSystemVolume":
		*v = 1
	case "fixedDataVolume":
		*v = 2
	case "removableDataVolume":
		*v = 3
	default:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("volumeType %s: not a number", b)
		}
		*v = volumeType(n)
	}
	return nil
}

// modelType maps a volumeType to the model's volume type.
func (v volumeType) modelType() model.VolumeType {
	switch v {
	case 1:
		return model.VolumeOS
	case 2:
		return model.VolumeFixed
	case 3:
		return model.VolumeRemovable
	}
	return model.VolumeUnknown
}

// graphClient lists recovery keys from Microsoft Graph.
type graphClient struct {
	endpoint *url.URL
	hc       *http.Client
	cred     azcore.TokenCredential
	scope    string
	// sleep waits d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error

	// tokenErr, once the identity platform refuses the credentials, fails
	// every later request without asking again.
	tokenMu  sync.Mutex
	tokenErr error
}

func newGraphClient(cfg *EntraConfig, hc *http.Client) (*graphClient, error) {
	endpoint := cfg.GraphEndpoint
	if endpoint == "" {
		endpoint = DefaultGraphEndpoint
	}
	authority := cfg.AuthorityHost
	if authority == "" {
		authority = DefaultAuthorityHost
	}
	eu, err := url.Parse(strings.TrimSuffix(endpoint, "/"))
	if err != nil {
		return nil, fmt.Errorf("entra graph_endpoint: %w", err)
	}
	if hc == nil {
		hc, err = entraHTTPClient(cfg.CACertFile)
		if err != nil {
			return nil, err
		}
	}
	hc = noRedirects(hc)
	opts := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: authority},
		Transport: hc,
		Telemetry: policy.TelemetryOptions{ApplicationID: "bitaudit"},
	}
	// Instance discovery asks the public cloud about the authority; a
	// sovereign or disconnected authority, or the simulator, must skip it
	// (azidentity ClientSecretCredentialOptions.DisableInstanceDiscovery).
	disable := !strings.EqualFold(strings.TrimSuffix(authority, "/"), strings.TrimSuffix(DefaultAuthorityHost, "/"))
	var cred azcore.TokenCredential
	switch {
	case cfg.CertificateFile != "":
		data, err := os.ReadFile(cfg.CertificateFile)
		if err != nil {
			return nil, fmt.Errorf("entra certificate_file: %w", err)
		}
		certs, key, err := azidentity.ParseCertificates(data, nil)
		if err != nil {
			return nil, fmt.Errorf("entra certificate_file %s: %w", cfg.CertificateFile, err)
		}
		cred, err = azidentity.NewClientCertificateCredential(cfg.TenantID, cfg.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: disable})
		if err != nil {
			return nil, fmt.Errorf("entra credential: %w", err)
		}
	default:
		secret, err := readSecret("entra client secret", cfg.ClientSecretEnv, cfg.ClientSecretFile)
		if err != nil {
			return nil, err
		}
		cred, err = azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, secret.Reveal(),
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: disable})
		if err != nil {
			return nil, fmt.Errorf("entra credential: %w", err)
		}
	}
	return &graphClient{
		endpoint: eu,
		hc:       hc,
		cred:     cred,
		scope:    eu.Scheme + "://" + eu.Host + "/.default",
		sleep:    sleepCtx,
	}, nil
}

func entraHTTPClient(caFile string) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	if caFile != "" {
		pool, err := loadCAs(caFile)
		if err != nil {
			return nil, fmt.Errorf("entra ca_cert_file: %w", err)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t, Timeout: 2 * time.Minute}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctxErr(ctx)
	}
}

// listKeys returns the recovery keys Entra ID holds for a deviceId,
// following @odata.nextLink.
func (g *graphClient) listKeys(ctx context.Context, deviceID string) ([]graphKey, error) {
	deviceID = model.NormalizeProtectorID(deviceID)
	if !model.IsGUID(deviceID) {
		return nil, fmt.Errorf("deviceId %q is not a GUID", deviceID)
	}
	// $filter supports only "deviceId eq" and there is no $top (bitlocker.md §5).
	filter := strings.ReplaceAll(url.QueryEscape("deviceId eq '"+deviceID+"'"), "+", "%20")
	next := g.endpoint.String() + recoveryKeysPath + "?$filter=" + filter
	var keys []graphKey
	for pages := 0; next != ""; pages++ {
		if pages > 1000 {
			return nil, fmt.Errorf("graph recoveryKeys for %s: more than 1000 pages", deviceID)
		}
		var page struct {
			Value    []graphKey `json:"value"`
			NextLink string     `json:"@odata.nextLink"`
		}
		if err := g.get(ctx, next, &page); err != nil {
			return nil, fmt.Errorf("graph recoveryKeys for device %s: %w", deviceID, err)
		}
		keys = append(keys, page.Value...)
		next = page.NextLink
		if next != "" {
			// The bearer token goes only to the configured Graph endpoint.
			u, err := url.Parse(next)
			if err != nil || u.Scheme != g.endpoint.Scheme || !strings.EqualFold(u.Host, g.endpoint.Host) {
				return nil, fmt.Errorf("graph recoveryKeys for device %s: nextLink leaves %s", deviceID, g.endpoint.Host)
			}
		}
	}
	return keys, nil
}

// getKey returns the recovery key with this ID, whatever device it belongs
// to, or nil when Graph has none.
func (g *graphClient) getKey(ctx context.Context, id string) (*graphKey, error) {
	id = model.NormalizeProtectorID(id)
	if !model.IsGUID(id) {
		return nil, fmt.Errorf("key id %q is not a GUID", id)
	}
	var k graphKey
	err := g.get(ctx, g.endpoint.String()+recoveryKeysPath+"/"+id, &k)
	var se *statusError
	if errors.As(err, &se) && se.status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("graph recoveryKey %s: %w", id, err)
	}
	return &k, nil
}

// devicesPath is the Graph v1.0 device collection
// (https://learn.microsoft.com/en-us/graph/api/device-list; needs
// Device.Read.All). $filter supports eq on deviceId and displayName.
const devicesPath = "/v1.0/devices"

// A graphDevice is a device object: what Entra ID holds for a computer.
type graphDevice struct {
	DeviceID    string `json:"deviceId"`
	DisplayName string `json:"displayName"`
	// TrustType is "AzureAd" (Entra-joined), "ServerAd" (hybrid-joined)
	// or "Workplace" (registered, not joined).
	TrustType string `json:"trustType"`
}

// joined reports whether the device is joined (not merely registered).
func (d *graphDevice) joined() bool {
	return strings.EqualFold(d.TrustType, "AzureAd") || strings.EqualFold(d.TrustType, "ServerAd")
}

// maxDevicesPerName bounds the devices one name may list (re-imaged
// computers leave a few behind; more is not one computer).
const maxDevicesPerName = 16

// devices returns the device objects whose property (deviceId or
// displayName) equals value.
func (g *graphClient) devices(ctx context.Context, property, value string) ([]graphDevice, error) {
	switch property {
	case "deviceId":
		value = model.NormalizeProtectorID(value)
		if !model.IsGUID(value) {
			return nil, fmt.Errorf("deviceId %q is not a GUID", value)
		}
	case "displayName":
		if err := model.ValidateHostname(value); err != nil || strings.Contains(value, ".") {
			return nil, fmt.Errorf("device name %q is not a computer name", value)
		}
	default:
		return nil, fmt.Errorf("devices by %s: not supported", property)
	}
	filter := strings.ReplaceAll(url.QueryEscape(property+" eq '"+value+"'"), "+", "%20")
	var page struct {
		Value []graphDevice `json:"value"`
	}
	if err := g.get(ctx, g.endpoint.String()+devicesPath+"?$filter="+filter+"&$select=deviceId,displayName,trustType", &page); err != nil {
		return nil, fmt.Errorf("graph devices with %s %s: %w", property, value, err)
	}
	if len(page.Value) > maxDevicesPerName {
		return nil, fmt.Errorf("graph devices with %s %s: %d devices, more than %d: %w", property, value, len(page.Value), maxDevicesPerName, model.ErrProtocol)
	}
	return page.Value, nil
}

// A redirectError is a 3xx answer from the token endpoint or Graph, refused.
type redirectError struct {
	status   int
	location string
}

func (e *redirectError) Error() string {
	return fmt.Sprintf("HTTP %d redirect to %s refused: bitaudit never follows redirects (a token or a client secret would go there)", e.status, e.location)
}

func (e *redirectError) Unwrap() error { return model.ErrProtocol }

// NonRetriable tells azcore's retry policy not to try again
// (azure-sdk-for-go internal/errorinfo.NonRetriable): a redirect is not transient.
func (e *redirectError) NonRetriable() {}

// noRedirects returns a copy of hc that follows no redirect: neither the
// token endpoint nor Graph is followed anywhere else, so the client secret
// or assertion and the bearer token stay with the configured hosts.
func noRedirects(hc *http.Client) *http.Client {
	c := *hc
	c.CheckRedirect = refuseRedirect
	return &c
}

// refuseRedirect is the CheckRedirect of every Entra ID and Graph request.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	e := &redirectError{location: req.URL.Redacted()}
	if req.Response != nil {
		e.status = req.Response.StatusCode
	}
	return e
}

// A statusError is a Graph answer other than 200.
type statusError struct {
	status int
	code   string // Graph error code
	msg    string
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("HTTP %d", e.status)
	if e.code != "" {
		s += " " + e.code
	}
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}

func (e *statusError) Unwrap() error {
	switch e.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return model.ErrAuth
	}
	return nil
}

// get GETs url with a bearer token and decodes the JSON answer into v,
// retrying 429 and 503 after Retry-After (bounded).
func (g *graphClient) get(ctx context.Context, u string, v any) error {
	for attempt := 0; ; attempt++ {
		tok, err := g.token(ctx)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", userAgent)
		resp, err := g.hc.Do(req)
		if err != nil {
			var re *redirectError
			switch {
			case ctx.Err() != nil:
				return ctxErr(ctx)
			case errors.As(err, &re):
				return re
			}
			return fmt.Errorf("%w: %v", model.ErrUnreachable, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("read answer: %w", err)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			if err := json.Unmarshal(body, v); err != nil {
				return fmt.Errorf("decode answer: %w: %v", model.ErrProtocol, err)
			}
			return nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			// Graph throttling guidance: wait Retry-After seconds, then retry.
			if attempt < maxGraphRetries {
				d := retryAfter(resp.Header.Get("Retry-After"), attempt)
				if d <= maxRetryAfter {
					if err := g.sleep(ctx, d); err != nil {
						return err
					}
					continue
				}
			}
		}
		se := &statusError{status: resp.StatusCode}
		var ge struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &ge) == nil {
			se.code, se.msg = ge.Error.Code, ge.Error.Message
		}
		return se
	}
}

// token returns a bearer token for Graph (azidentity caches it until it
// nears expiry).
func (g *graphClient) token(ctx context.Context) (azcore.AccessToken, error) {
	g.tokenMu.Lock()
	err := g.tokenErr
	g.tokenMu.Unlock()
	if err != nil {
		return azcore.AccessToken{}, err
	}
	tok, err := g.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{g.scope}})
	if err == nil {
		return tok, nil
	}
	if ctx.Err() != nil {
		return tok, ctxErr(ctx)
	}
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) || afe.RawResponse == nil || afe.RawResponse.StatusCode >= 500 {
		// No answer, or a server error: the platform may recover.
		return tok, fmt.Errorf("token: %w: %s", model.ErrUnreachable, oneLine(err))
	}
	err = fmt.Errorf("token: %w: %s", model.ErrAuth, oneLine(err))
	g.tokenMu.Lock()
	g.tokenErr = err
	g.tokenMu.Unlock()
	return tok, err
}

// retryAfter parses a Retry-After header (seconds or an HTTP date); without
// one it backs off exponentially from one second.
func retryAfter(h string, attempt int) time.Duration {
	if h != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
		if t, err := http.ParseTime(h); err == nil {
			return max(time.Until(t), 0)
		}
	}
	return time.Second << attempt
}

// oneLine condenses azidentity's multi-line error text (request, response
// body, troubleshooting link) into one line for a Reason.
func oneLine(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.Trim(l, "-") == "" || strings.HasPrefix(l, "To troubleshoot") {
			continue
		}
		parts = append(parts, l)
	}
	return strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
}
