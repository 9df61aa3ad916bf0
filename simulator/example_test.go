package simulator_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/bitaudit/bitaudit/simulator"
)

func ExampleBuild() {
	spec, err := simulator.LoadSpec(strings.NewReader(`
seed: 1
profiles:
  - {name: domain-laptop, count: 2}
  - {name: never-escrowed, count: 1}
  - {name: entra-laptop, count: 1}
faults:
  - {kind: refused, count: 1}
`), "fleet.yaml")
	if err != nil {
		log.Fatal(err)
	}
	hosts, err := simulator.Build(spec)
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hosts {
		fmt.Println(h.Machine.ComputerName, h.Machine.OS.BuildNumber, h.Profile, h.Faults, h.Expect.Status, h.Expect.Problems)
	}
	// Output:
	// LT-0001 19045 domain-laptop [] compliant []
	// LT-0002 19045 never-escrowed [refused] unreachable []
	// LT-0003 22631 domain-laptop [] compliant []
	// LT-0004 26100 entra-laptop [] compliant []
}
