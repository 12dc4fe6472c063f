package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/migrate"
)

func newMigrate(o *output) *cobra.Command {
	cmd := &cobra.Command{Use: "migrate", Short: "Plan, apply, revert and list schema migrations"}
	cmd.AddCommand(newMigratePlan(o), newMigrateUp(o), newMigrateDown(o), newMigrateStatus(o))
	return cmd
}

// openMigrator loads the spec and opens the database without checking its schema.
func openMigrator(cmd *cobra.Command, o *output, s *settings) (*migrate.Migrator, migrate.Schema, func(), error) {
	sp, err := kiln.LoadSpec(s.spec, nil)
	if err != nil {
		return nil, migrate.Schema{}, nil, err
	}
	cfg := s.config(discardLogger())
	cfg.Waiting = func(msg string) { o.warn("%s", msg) }
	st, m, err := kiln.OpenStore(cmd.Context(), cfg, sp)
	if err != nil {
		return nil, migrate.Schema{}, nil, err
	}
	return m, migrate.FromSpec(sp), func() { _ = st.Close() }, nil
}

func newMigratePlan(o *output) *cobra.Command {
	var s settings
	var name string
	var allow, dryRun bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Diff the spec against the last migration, print the SQL and write the next up/down files",
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, desired, done, err := openMigrator(cmd, o, &s)
			if err != nil {
				return err
			}
			defer done()
			plans, err := m.PlanAll(desired)
			if err != nil {
				return err
			}
			if !printPlans(o, plans) {
				o.ok("the migrations already match the spec")
				return nil
			}
			if dryRun {
				return nil
			}
			files, err := migrate.WriteAll(plans, name, allow)
			if errors.Is(err, migrate.ErrDestructive) {
				o.warn("not written: destructive changes need --allow-destructive")
				return fmt.Errorf("%w (rerun with --allow-destructive)", err)
			}
			if err != nil {
				return err
			}
			for _, f := range files {
				o.ok("wrote %s and %s", f.UpPath, filepath.Base(f.DownPath))
			}
			return nil
		},
	}
	s.bind(cmd)
	cmd.Flags().StringVar(&name, "name", "change", "name of the migration")
	cmd.Flags().BoolVar(&allow, "allow-destructive", false, "allow dropping tables or columns and narrowing types")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan without writing files")
	return cmd
}

// printPlans prints each dialect's changes and SQL, naming the dialect when there are several,
// and reports whether any plan has changes.
func printPlans(o *output, plans []migrate.DialectPlan) bool {
	some := false
	for _, dp := range plans {
		if dp.Plan.Empty() {
			continue
		}
		some = true
		label := ""
		if len(plans) > 1 {
			label = " for " + dp.Dialect + " (" + dp.Dir + ")"
		}
		printPlan(o, dp.Plan, label)
	}
	return some
}

func printPlan(o *output, plan migrate.Plan, label string) {
	o.info("Changes%s:", label)
	for _, c := range plan.Changes {
		if c.Destructive {
			o.warn("%s  [destructive]", c.Description)
		} else {
			o.step("%s", c.Description)
		}
	}
	o.info("\nSQL (up)%s:", label)
	for _, stmt := range plan.Up {
		o.info("%s;", stmt)
	}
}

func newMigrateUp(o *output) *cobra.Command {
	var s settings
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration, each in its own transaction",
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, _, done, err := openMigrator(cmd, o, &s)
			if err != nil {
				return err
			}
			defer done()
			applied, err := m.Up(cmd.Context(), func(f migrate.File) { o.ok("applied %04d_%s", f.Version, f.Name) })
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				o.ok("nothing to apply: the database is up to date")
			}
			return nil
		},
	}
	s.bind(cmd)
	return cmd
}

func newMigrateDown(o *output) *cobra.Command {
	var s settings
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Revert the last applied migration",
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, _, done, err := openMigrator(cmd, o, &s)
			if err != nil {
				return err
			}
			defer done()
			f, err := m.Down(cmd.Context())
			if err != nil {
				return err
			}
			o.ok("reverted %04d_%s", f.Version, f.Name)
			return nil
		},
	}
	s.bind(cmd)
	return cmd
}

func newMigrateStatus(o *output) *cobra.Command {
	var s settings
	cmd := &cobra.Command{
		Use:   "status",
		Short: "List migrations and whether each is applied",
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, desired, done, err := openMigrator(cmd, o, &s)
			if err != nil {
				return err
			}
			defer done()
			return printStatus(cmd, o, m, desired)
		},
	}
	s.bind(cmd)
	return cmd
}

// printStatus lists every migration; it fails (exit status 1) when an applied migration has
// no file or was edited, so a deploy script can stop on it.
func printStatus(cmd *cobra.Command, o *output, m *migrate.Migrator, desired migrate.Schema) error {
	es, err := m.Status(cmd.Context())
	if err != nil {
		return err
	}
	o.info("Migrations in %s:", m.Dir())
	for _, e := range es {
		var state string
		switch e.State {
		case migrate.StatePending:
			state = o.paint("33", "pending")
		case migrate.StateApplied:
			state = o.paint("32", "applied "+e.AppliedAt)
		case migrate.StateEdited:
			state = o.paint("31", editedState(e))
		case migrate.StateNoFile:
			state = o.paint("31", "applied "+e.AppliedAt+", no file")
		}
		o.info("  %-35s %s", e.Label(), state)
	}
	fmt.Fprintln(o.out)
	if err := migrate.Problems(es, m.Dir()); err != nil {
		return err
	}
	if err := migrate.Bases(es, m.Dialect()); err != nil {
		return err
	}
	return statusAdvice(cmd, o, m, desired, es)
}

// editedState is status's word on an applied migration whose file changed since: renamed or
// renumbered when its number was applied under another name, edited otherwise.
func editedState(e migrate.Entry) string {
	if e.AppliedName != "" {
		return fmt.Sprintf("applied %s as %04d_%s, file renamed or renumbered since", e.AppliedAt, e.Version, e.AppliedName)
	}
	return "applied " + e.AppliedAt + ", file edited since (checksum mismatch)"
}

// ifUpFails is status's word on pending files: it cannot know whether the last up failed on
// them (a failed migration is rolled back and leaves no record).
const ifUpFails = "if it fails on existing rows, fix the rows (the API is not served while a migration is pending: use the database's own client) or change the spec and re-plan (delete the pending file, then kiln migrate plan)"

// statusAdvice says what the next step is: apply the pending files when they bring the
// database to the spec, plan when the spec goes beyond the newest file. A spec the database
// already matches while files are pending is the spec of before them: planning from it would
// write a migration undoing them.
func statusAdvice(cmd *cobra.Command, o *output, m *migrate.Migrator, desired migrate.Schema, es []migrate.Entry) error {
	var pending []string
	for _, e := range es {
		if e.State == migrate.StatePending {
			pending = append(pending, e.Label())
		}
	}
	plan, err := m.Plan(desired)
	if err != nil {
		return err
	}
	switch {
	case plan.Empty() && len(pending) > 0:
		o.warn("%d migration(s) pending (%s); they bring the database to the spec: run kiln migrate up; %s", len(pending), strings.Join(pending, ", "), ifUpFails)
	case plan.Empty():
	case len(pending) == 0:
		o.warn("the spec has %d change(s) no migration covers yet: run kiln migrate plan", len(plan.Changes))
	default:
		if current, err := m.Check(cmd.Context(), desired); err == nil && current.Empty() {
			o.warn("the spec matches the database, not the pending migration(s) %s: kiln migrate up would take it past the spec, and kiln migrate plan would write a migration undoing them; update the spec, or delete the pending files if they are abandoned",
				strings.Join(pending, ", "))
			return nil
		}
		o.warn("%d migration(s) pending (%s), and the spec has %d change(s) beyond them: run kiln migrate up, then kiln migrate plan",
			len(pending), strings.Join(pending, ", "), len(plan.Changes))
	}
	return nil
}
