package simulator

// GCPercent is the garbage collector's target (GOGC) for a process whose
// job is serving a fleet, as `bitaudit simulate` is. Serving a host
// allocates a few hundred KiB that die with the request, while each
// collection must scan what the fleet holds for as long as it runs (its
// machines, certificates and every listener's goroutine stack); collecting
// at five times that instead of twice it cuts the simulator's CPU per served
// host by about a fifth (BenchmarkServedHost), for a heap some 30 KiB per
// host larger (about 300 MiB more at 10,000 hosts).
const GCPercent = 400
