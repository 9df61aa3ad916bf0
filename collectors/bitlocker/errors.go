package bitlocker

import (
	"fmt"

	"github.com/bitaudit/bitaudit/model"
)

// protocolf returns an error wrapping model.ErrProtocol. Callers never put
// raw host text in format arguments; they pass it through Clean first.
func protocolf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{model.ErrProtocol}, args...)...)
}
