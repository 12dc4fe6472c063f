package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// row is one scenario's medians per server (in the servers' order) and Kiln's ratios.
type row struct {
	name             string
	rps, cpu         []float64 // req/s, server CPU µs per request
	dbCPU            []float64 // its PostgreSQL backends' CPU µs per request (0 on SQLite)
	p50, p99         []time.Duration
	peak             []int     // largest resident set seen, KiB
	ratios           []float64 // kiln / each other server, median of the per-round ratios
	ratioNames       []string
	kilnIndex, count int
}

// measure runs every scenario for o.rounds rounds; round r starts with server r (mod n), so
// each server in turn runs first, when the machine's other work has had the longest pause.
func measure(servers []*server, o options) ([]row, error) {
	var rows []row
	for _, sc := range scenarios() {
		if o.only != "" && sc.name != o.only {
			continue
		}
		runs := make([][]result, len(servers))
		for r := range o.rounds {
			for k := range servers {
				i := (r + k) % len(servers)
				s := servers[i]
				res := load(s, sc.make(s.paths, s.ids), o.workers, o.duration)
				if res.errors > 0 {
					return nil, fmt.Errorf("%s on %s: %d of %d requests failed (%v)", sc.name, s.name, res.errors, res.count, res.firstErr)
				}
				runs[i] = append(runs[i], res)
			}
		}
		rows = append(rows, summarize(sc.name, servers, runs))
	}
	return rows, nil
}

func summarize(name string, servers []*server, runs [][]result) row {
	rw := row{name: name}
	for i := range servers {
		var rps, cpu, db []float64
		var p50, p99 []time.Duration
		peak := 0
		for _, r := range runs[i] {
			rps, cpu, db = append(rps, r.rps()), append(cpu, r.cpuPerReq()), append(db, r.dbPerReq())
			p50, p99 = append(p50, r.pct(50)), append(p99, r.pct(99))
			peak = max(peak, r.peakKiB)
		}
		rw.rps, rw.cpu, rw.dbCPU = append(rw.rps, median(rps)), append(rw.cpu, median(cpu)), append(rw.dbCPU, median(db))
		rw.p50, rw.p99, rw.peak = append(rw.p50, median(p50)), append(rw.p99, median(p99)), append(rw.peak, peak)
		if servers[i].name == "kiln" {
			rw.kilnIndex = i
		}
	}
	for i, s := range servers {
		if i == rw.kilnIndex {
			continue
		}
		var ratios []float64
		for r := range runs[i] {
			ratios = append(ratios, runs[rw.kilnIndex][r].rps()/runs[i][r].rps())
		}
		rw.ratios, rw.ratioNames = append(rw.ratios, median(ratios)), append(rw.ratioNames, s.name)
	}
	return rw
}

func median[T int | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// footprint is a server's size, start and memory.
type footprint struct {
	binary  int64
	cold    time.Duration
	idle    memory
	settled memory // idle for -idle-settle after its last start; zero when not read
	// idleCPU is the CPU the last instance used while idle, between its first read and the
	// settled one, as a share of one core (0 when not read).
	idleCPU float64
	peakKiB int
}

// idle restarts each server five times on its up-to-date data: the median time to its first
// 200 is its cold start; wait (-idle-wait, default 2.5 s) after each start (it has answered
// its health check, and background work such as Kiln's revocation poll has run) its resident
// set is read, and the median is kept. A resident set read that soon can flatter a server
// that gave memory back at start: periodic work and the first garbage collections map pages
// again. So, when settle is set, each server's last instance is read again once it has been
// idle that long, and the CPU it used meanwhile is kept.
func idle(servers []*server, wait, settle time.Duration) ([]footprint, error) {
	out := make([]footprint, len(servers))
	started, read := make([]time.Time, len(servers)), make([]time.Time, len(servers))
	cpu := make([]time.Duration, len(servers))
	for i, s := range servers {
		var colds []time.Duration
		var mems []memory
		for range 5 {
			cold, err := s.restart()
			if err != nil {
				return nil, err
			}
			started[i] = time.Now()
			time.Sleep(wait)
			colds, mems = append(colds, cold), append(mems, s.memory())
			read[i], cpu[i] = time.Now(), s.cpuTime()
		}
		slices.SortFunc(mems, func(a, b memory) int { return a.rss - b.rss })
		out[i].cold, out[i].idle = median(colds), mems[len(mems)/2]
	}
	if settle <= 0 {
		return out, nil
	}
	fmt.Fprintf(os.Stderr, "reading idle memory again %s after each server's last start…\n", settle)
	for i, s := range servers {
		time.Sleep(time.Until(started[i].Add(settle)))
		out[i].settled = s.memory()
		out[i].idleCPU = float64(s.cpuTime()-cpu[i]) / float64(time.Since(read[i]))
	}
	return out, nil
}

func printTables(servers []*server, rows []row, mem []footprint) {
	names := make([]string, len(servers))
	for i, s := range servers {
		names[i] = s.name
	}
	if len(rows) > 0 {
		printLoad(names, rows, false)
	}
	head("server", "binary", "cold start (median of 5)", "idle RSS (anon + file)", "idle RSS settled (anon + file)", "idle CPU (of one core)", "peak RSS under load")
	for i, n := range names {
		m := mem[i]
		settled, idleCPU := "not read", "not read"
		if m.settled.rss > 0 {
			settled = fmt.Sprintf("%.1f MiB (%.1f + %.1f)", mib(m.settled.rss), mib(m.settled.anon), mib(m.settled.file))
			idleCPU = fmt.Sprintf("%.2f%%", 100*m.idleCPU)
		}
		fmt.Printf("| %s | %.1f MB | %s | %.1f MiB (%.1f + %.1f) | %s | %s | %.1f MiB |\n", n, float64(m.binary)/1e6, ms(m.cold),
			mib(m.idle.rss), mib(m.idle.anon), mib(m.idle.file), settled, idleCPU, mib(m.peakKiB))
	}
	fmt.Println()
	head("server (idle, median start)", "binary code", "binary read-only data", "binary writable data", "anonymous", "other files")
	for i, n := range names {
		r := mem[i].idle.regions
		fmt.Printf("| %s | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB |\n", n, mib(r.code), mib(r.rodata), mib(r.data), mib(r.anon), mib(r.files))
	}
}

// head prints a Markdown table's header.
func head(cols ...string) {
	fmt.Printf("| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat(" --- |", len(cols)))
}

// printLoad prints the load tables: req/s and Kiln's ratios, then CPU per request and latency.
// With db (PostgreSQL) the CPU cells add the server's backends and Kiln's CPU ratio.
func printLoad(names []string, rows []row, db bool) {
	cols := []string{"scenario"}
	for _, n := range names {
		cols = append(cols, n+" req/s")
	}
	for _, n := range rows[0].ratioNames {
		cols = append(cols, "kiln/"+n)
	}
	head(cols...)
	for _, r := range rows {
		cells := []string{r.name}
		for i := range names {
			cells = append(cells, fmt.Sprintf("%.0f", r.rps[i]))
		}
		for _, x := range r.ratios {
			cells = append(cells, fmt.Sprintf("%.2f×", x))
		}
		fmt.Printf("| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Println()
	printCPU(names, rows, db)
}

func printCPU(names []string, rows []row, db bool) {
	cols := []string{"scenario"}
	for _, n := range names {
		if db {
			cols = append(cols, n+" CPU µs/req (server + postgres = total)", n+" p50 / p99")
		} else {
			cols = append(cols, n+" CPU µs/req", n+" p50 / p99")
		}
	}
	if db {
		cols = append(cols, "kiln/"+strings.Join(rows[0].ratioNames, ", kiln/")+" CPU")
	}
	head(cols...)
	for _, r := range rows {
		cells := []string{r.name}
		for i := range names {
			cpu := fmt.Sprintf("%.0f", r.cpu[i])
			if db {
				cpu = fmt.Sprintf("%.0f + %.0f = %.0f", r.cpu[i], r.dbCPU[i], r.cpu[i]+r.dbCPU[i])
			}
			cells = append(cells, cpu, ms(r.p50[i])+" / "+ms(r.p99[i]))
		}
		for i := range names {
			if db && i != r.kilnIndex {
				k := r.cpu[r.kilnIndex] + r.dbCPU[r.kilnIndex]
				cells = append(cells, fmt.Sprintf("%.2f×", k/(r.cpu[i]+r.dbCPU[i])))
			}
		}
		fmt.Printf("| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Println()
}

func mib(kib int) float64 { return float64(kib) / 1024 }

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
