package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"
)

// migrateCmd groups the database migration commands.
type migrateCmd struct {
	Up     migrateUpCmd     `cmd:"" help:"Apply every pending migration."`
	Down   migrateDownCmd   `cmd:"" help:"Roll back the newest migration, or all above --to. Drops data: needs --yes."`
	Status migrateStatusCmd `cmd:"" help:"List the migrations and whether each is applied."`
}

type migrateUpCmd struct{}

func (migrateUpCmd) Run(ctx context.Context, rt *Runtime) error {
	_, st, err := rt.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CheckWritable(ctx); err != nil {
		return err
	}
	applied, err := st.MigrateUp(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(rt.Stdout, "%s is up to date\n", st.Location.Redacted)
		return nil
	}
	for _, v := range applied {
		fmt.Fprintf(rt.Stdout, "applied %05d\n", v)
	}
	return nil
}

type migrateDownCmd struct {
	To  int64 `default:"-1" placeholder:"VERSION" help:"Roll back every migration above this version (0 rolls back everything)."`
	Yes bool  `help:"Confirm: rolling back drops the tables, and the cases, of the migrations undone."`
}

func (c migrateDownCmd) Run(ctx context.Context, rt *Runtime) error {
	if c.To < -1 {
		return fmt.Errorf("--to %d: give a migration version, 0 or more", c.To)
	}
	if !c.Yes {
		return fmt.Errorf("migrate down drops the tables of the migrations it undoes, cases included; run it again with --yes to confirm")
	}
	// Rolling back a database that is not there has nothing to undo: a mistyped path must
	// not leave an empty database behind.
	_, st, err := rt.open(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CheckWritable(ctx); err != nil {
		return err
	}
	undone, err := st.MigrateDown(ctx, max(c.To, 0), c.To >= 0)
	if err != nil {
		return err
	}
	if len(undone) == 0 {
		fmt.Fprintln(rt.Stdout, "nothing to roll back")
	}
	for _, v := range undone {
		fmt.Fprintf(rt.Stdout, "rolled back %05d\n", v)
	}
	return nil
}

type migrateStatusCmd struct{}

func (migrateStatusCmd) Run(ctx context.Context, rt *Runtime) error {
	// Like the read commands, status refuses a missing SQLite file rather than create an
	// empty one and report every migration pending.
	_, st, err := rt.open(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	status, err := st.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(rt.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT\tFILE")
	for _, m := range status {
		state, at := "pending", "-"
		if m.Applied {
			state, at = "applied", m.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%05d\t%s\t%s\t%s\n", m.Version, state, at, m.Source)
	}
	return tw.Flush()
}
