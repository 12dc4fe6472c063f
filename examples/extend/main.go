// Command extend embeds Kiln in a Go program: the clinic spec beside it, plus what the spec
// cannot say — opening hours checked in a before-hook, a Go action that reschedules, an
// after-hook that counts bookings and a custom route. It imports only the public kiln
// package.
//
//	go run ./examples/extend --dev
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kiln-dev/kiln"
)

// Clinic holds what the extensions share.
type Clinic struct {
	booked atomic.Int64 // appointments booked since start
}

// Extensions are the clinic's Go additions to its spec.
func (c *Clinic) Extensions() *kiln.Extensions {
	x := &kiln.Extensions{}
	x.Before("appointments", kiln.Create, c.checkAppointment)
	x.Before("appointments", kiln.Update, c.checkAppointment)
	x.After("appointments", kiln.Create, func(context.Context, kiln.Operation, *kiln.Record) { c.booked.Add(1) })
	x.Action("appointments", "reschedule", c.reschedule)
	x.Handle("GET /api/clinic/summary", c.summary, kiln.RouteDoc{Summary: "Who asks, and how many appointments this process booked",
		Response: summary{}})
	return x
}

// checkAppointment keeps appointments within opening hours (weekdays, 08:00 to 18:00 UTC)
// and tidies the reason.
func (c *Clinic) checkAppointment(_ context.Context, _ kiln.Operation, rec *kiln.Record) error {
	starts, _ := rec.Fields["starts_at"].(time.Time)
	if !open(starts) {
		return kiln.Invalid(kiln.FieldError{Field: "starts_at", Code: "outside_hours",
			Message: "must be on a weekday between 08:00 and 18:00 UTC"})
	}
	if reason, ok := rec.Fields["reason"].(string); ok {
		rec.Fields["reason"] = strings.TrimSpace(reason)
	}
	return nil
}

func open(t time.Time) bool {
	t = t.UTC()
	return t.Weekday() != time.Saturday && t.Weekday() != time.Sunday && t.Hour() >= 8 && t.Hour() < 18
}

// reschedule moves a booked appointment; the before-hook checks the new time.
func (c *Clinic) reschedule(ctx context.Context, call kiln.ActionCall) (string, error) {
	if call.Record.Fields["status"] != "booked" {
		return "", kiln.Conflict("not_booked", "only a booked appointment can be rescheduled")
	}
	_, err := call.Tx.Update(ctx, "appointments", call.Record.ID, map[string]any{"starts_at": call.Input["starts_at"]})
	return "", err
}

// summary answers who is asking and how many appointments were booked since start.
// summary is the answer of GET /api/clinic/summary (its type documents it in the OpenAPI
// document, through kiln.RouteDoc).
type summary struct {
	Role             string `json:"role"`
	BookedSinceStart int64  `json:"booked_since_start"`
}

func (c *Clinic) summary(w http.ResponseWriter, r *http.Request, call kiln.RouteCall) {
	if call.Principal == nil {
		call.Error(w, r, kiln.NotFound("sign in to see the summary"))
		return
	}
	kiln.WriteJSON(w, http.StatusOK, summary{Role: call.Principal.Role, BookedSinceStart: c.booked.Load()})
}

func main() {
	dev := flag.Bool("dev", false, "apply migrations at start and use a temporary auth secret")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	specPath := flag.String("spec", "examples/extend/kiln.yaml", "the clinic spec")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	app, err := kiln.New(ctx, kiln.Config{SpecPath: *specPath, Dev: *dev, DataDir: "clinic_data", Logger: log,
		Extensions: (&Clinic{}).Extensions()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "extend:", err)
		os.Exit(1)
	}
	defer app.Close()
	if err := app.Run(ctx, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "extend:", err)
		os.Exit(1)
	}
}
