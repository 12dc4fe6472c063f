package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/jobs"
)

func newJobs(o *output) *cobra.Command {
	cmd := &cobra.Command{Use: "jobs", Short: "Inspect, retry and cancel background jobs (docs/jobs.md)"}
	cmd.AddCommand(newJobsList(o), newJobsShow(o), newJobsAct(o, "retry", "Run a dead, cancelled or finished job again now"),
		newJobsAct(o, "cancel", "Cancel a job that has not finished"))
	return cmd
}

// openJobs opens the app to manage its queue: no workers, no token signing.
func openJobs(cmd *cobra.Command, s *settings) (*kiln.App, error) {
	cfg := s.config(discardLogger())
	cfg.NoTokens, cfg.NoWorkers, cfg.Admin = true, true, true
	return kiln.New(cmd.Context(), cfg)
}

func newJobsList(o *output) *cobra.Command {
	var s settings
	var opts jobs.ListOpts
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List jobs, newest first",
		RunE: func(cmd *cobra.Command, _ []string) error {
			app, err := openJobs(cmd, &s)
			if err != nil {
				return err
			}
			defer app.Close()
			list, err := app.Jobs.List(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONOut(cmd, map[string]any{"jobs": nonNil(list)})
			}
			for _, j := range list {
				o.info("%d\t%s\t%s\t%s\tattempt %d/%d%s", j.ID, j.State, j.Kind, j.Queue, j.Attempt, j.MaxAttempts, lastError(j))
			}
			return nil
		},
	}
	s.bind(cmd)
	cmd.Flags().StringVar(&opts.State, "state", "", "only jobs in this state: "+strings.Join(jobs.States, ", "))
	cmd.Flags().StringVar(&opts.Kind, "kind", "", "only jobs of this kind (trigger.<resource>.<name>)")
	cmd.Flags().IntVar(&opts.Limit, "limit", 50, "at most this many jobs (500 at most)")
	cmd.Flags().Int64Var(&opts.Before, "before", 0, "only jobs with a smaller id (the next page)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func nonNil(list []*jobs.Job) []*jobs.Job {
	if list == nil {
		return []*jobs.Job{}
	}
	return list
}

// lastError is the error of the job's last failed attempt, from its attempt history: a job
// retried until it completed keeps it, so the column names the attempt it belongs to.
func lastError(j *jobs.Job) string {
	if len(j.Errors) == 0 {
		return ""
	}
	e := j.Errors[len(j.Errors)-1]
	return fmt.Sprintf("\tattempt %d failed: %s", e.Attempt, e.Error)
}

func newJobsShow(o *output) *cobra.Command {
	var s settings
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one job with its args and the error of each attempt",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := jobID(args[0])
			if err != nil {
				return err
			}
			app, err := openJobs(cmd, &s)
			if err != nil {
				return err
			}
			defer app.Close()
			j, err := app.Jobs.Get(cmd.Context(), id)
			if err != nil {
				return fmt.Errorf("job %d: %w", id, err)
			}
			if asJSON {
				return writeJSONOut(cmd, j)
			}
			o.info("job %d: %s, kind %s, queue %s, priority %d, attempt %d of %d", j.ID, j.State, j.Kind, j.Queue, j.Priority, j.Attempt, j.MaxAttempts)
			o.info("args: %s", j.Args)
			for _, e := range j.Errors {
				o.info("attempt %d at %s: %s", e.Attempt, e.At.Format("2006-01-02T15:04:05.000Z07:00"), e.Error)
			}
			return nil
		},
	}
	s.bind(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newJobsAct(o *output, verb, short string) *cobra.Command {
	var s settings
	var asJSON bool
	cmd := &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := jobID(args[0])
			if err != nil {
				return err
			}
			app, err := openJobs(cmd, &s)
			if err != nil {
				return err
			}
			defer app.Close()
			act := app.Jobs.Retry
			if verb == "cancel" {
				act = app.Jobs.Cancel
			}
			j, err := act(cmd.Context(), id)
			var done *jobs.FinishedError
			if errors.As(err, &done) {
				return err // it names the job and its state
			}
			if err != nil {
				return fmt.Errorf("job %d: %w", id, err)
			}
			if asJSON {
				return writeJSONOut(cmd, j)
			}
			o.ok("job %d is %s", j.ID, j.State)
			return nil
		},
	}
	s.bind(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func jobID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not a job id (a positive number; see kiln jobs list)", s)
	}
	return id, nil
}

func writeJSONOut(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newWorker(o *output) *cobra.Command {
	var s settings
	var logFlush string
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run only the job workers (no HTTP): scale them apart from kiln serve",
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, logw, err := serverLog(logFlush)
			if err != nil {
				return err
			}
			defer logw.Close()
			cfg := s.config(log)
			cfg.NoTokens = true
			app, err := kiln.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer app.Close()
			o.ok("working jobs of %s (%d kinds); stop with Ctrl-C or SIGTERM", s.spec, app.Jobs.Kinds())
			return app.RunWorkers(cmd.Context())
		},
	}
	s.bind(cmd)
	logFlushFlag(cmd, &logFlush)
	return cmd
}
