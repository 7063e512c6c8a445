package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/olapgate/olapgate/internal/config"
	"github.com/olapgate/olapgate/internal/dataset"
	"github.com/olapgate/olapgate/store/pinot"
)

const pinotUsage = `olapgate pinot: set up Apache Pinot for the config's pinot datasets

Usage:
  olapgate pinot schema --config FILE [--dataset NAME] [--only schema|table]
        print each dataset's schema and REALTIME table config as JSON
  olapgate pinot apply  --config FILE [--dataset NAME] [--controller URL] [--dry-run]
        create or update them on the controller (idempotent: unchanged ones are left alone)

A dataset's table comes from backends.pinot.tables.<dataset> (its kafka or kinesis stream,
mode none|dedup|upsert); without one only its schema is printed or applied.
`

// runPinot is `olapgate pinot ...`; it writes JSON and progress to stdout.
func runPinot(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, pinotUsage)
		if len(args) == 0 {
			return errors.New("pinot: a subcommand (schema or apply) is required")
		}
		return nil
	}
	sub := args[0]
	fs := flag.NewFlagSet("pinot "+sub, flag.ContinueOnError)
	cfgPath := fs.String("config", "", "YAML config file with the datasets and backends.pinot (required)")
	only := fs.String("dataset", "", "only this dataset (default: every dataset whose backend is pinot)")
	var part *string
	var controller *string
	var dry *bool
	var timeout *time.Duration
	switch sub {
	case "schema":
		part = fs.String("only", "", `print only the "schema" or the "table" document, as the controller takes it (needs a single dataset)`)
	case "apply":
		controller = fs.String("controller", "", "controller base URL (default: backends.pinot.controller)")
		dry = fs.Bool("dry-run", false, "report what would change without changing it")
		timeout = fs.Duration("timeout", 2*time.Minute, "bound on the whole apply")
	default:
		return fmt.Errorf("pinot: unknown subcommand %q (want schema or apply)\n\n%s", sub, pinotUsage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("pinot %s: unexpected arguments %v", sub, fs.Args())
	}
	if *cfgPath == "" {
		return fmt.Errorf("pinot %s: --config is required", sub)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	sets, err := pinotSetups(cfg, *only)
	if err != nil {
		return err
	}
	if sub == "schema" {
		return printPinot(stdout, sets, *part)
	}

	url := *controller
	if url == "" && cfg.Backends.Pinot != nil {
		url = cfg.Backends.Pinot.Controller
	}
	if url == "" {
		return errors.New("pinot apply: no controller: give --controller or backends.pinot.controller")
	}
	c := &pinot.Controller{URL: url}
	if cfg.Backends.Pinot != nil {
		c.Authorization = cfg.Backends.Pinot.Authorization
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	for _, s := range sets {
		if err := c.Apply(ctx, s.schema, s.table, pinot.ApplyOptions{DryRun: *dry, Progress: stdout}); err != nil {
			return fmt.Errorf("pinot apply: %w", err)
		}
		if s.table == nil {
			fmt.Fprintf(stdout, "table %s_REALTIME: skipped (no backends.pinot.tables.%s entry)\n", s.name, s.name)
		}
	}
	return nil
}

type pinotSetup struct {
	name   string
	schema *pinot.Schema
	table  *pinot.TableConfig // nil: no stream configured
}

// pinotSetups generates the schema and table config of every pinot dataset (or the one named).
func pinotSetups(cfg *config.Config, only string) ([]pinotSetup, error) {
	var out []pinotSetup
	for _, d := range cfg.Datasets {
		if only != "" && !strings.EqualFold(d.Name, only) {
			continue
		}
		if d.Backend != dataset.BackendPinot {
			if only != "" {
				return nil, fmt.Errorf("pinot: dataset %s has backend %s, not pinot", d.Name, d.Backend)
			}
			continue
		}
		s, err := pinot.SchemaFor(d)
		if err != nil {
			return nil, err
		}
		ps := pinotSetup{name: d.Name, schema: s}
		if setup, ok := cfg.Backends.Pinot.TableFor(d.Name); ok {
			if ps.table, err = pinot.TableConfigFor(d, setup); err != nil {
				return nil, err
			}
		}
		out = append(out, ps)
	}
	switch {
	case len(out) > 0:
		return out, nil
	case only != "":
		return nil, fmt.Errorf("pinot: no dataset %q in the config", only)
	}
	return nil, errors.New("pinot: the config declares no dataset with backend pinot")
}

func printPinot(w io.Writer, sets []pinotSetup, part string) error {
	if part != "" {
		if len(sets) != 1 {
			return fmt.Errorf("pinot schema --only %s: %d datasets; pick one with --dataset", part, len(sets))
		}
		var b []byte
		var err error
		switch part {
		case "schema":
			b, err = sets[0].schema.JSON()
		case "table":
			if sets[0].table == nil {
				return fmt.Errorf("pinot schema --only table: dataset %s has no backends.pinot.tables entry", sets[0].name)
			}
			b, err = sets[0].table.JSON()
		default:
			return fmt.Errorf("pinot schema --only %q: want schema or table", part)
		}
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	for _, s := range sets {
		doc := struct {
			Dataset string             `json:"dataset"`
			Schema  *pinot.Schema      `json:"schema"`
			Table   *pinot.TableConfig `json:"table"`
		}{s.name, s.schema, s.table}
		b, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return fmt.Errorf("encode pinot setup of %s: %w", s.name, err)
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}
