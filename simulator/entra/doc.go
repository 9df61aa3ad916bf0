// Package entra is the simulator's Entra ID: one HTTPS server on loopback
// acting as the Microsoft identity platform token endpoint (client
// credentials with a secret or a certificate assertion, plus the OpenID
// discovery document MSAL fetches when instance discovery is disabled) and as
// Microsoft Graph's BitLocker recovery keys API:
//
//	GET /v1.0/informationProtection/bitlocker/recoveryKeys?$filter=deviceId eq '<id>'
//	GET /v1.0/informationProtection/bitlocker/recoveryKeys/<id>
//	GET /v1.0/devices (Entra-joined and hybrid-joined machines, trustType AzureAd or ServerAd)
//
// Keys come from the machines' escrow truth (windows.Machine.Escrow.Entra),
// read on every request, so a backup made by remediation shows up at once.
// Lists are paged with @odata.nextLink (small pages, to exercise paging),
// every Nth Graph request can be answered 429 with Retry-After
// (deterministic), and $select=key is refused as for an application that
// holds only BitlockerKey.ReadBasic.All.
//
// It imports nothing of bitaudit outside simulator/.
package entra
