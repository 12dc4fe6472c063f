package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/openapi"
)

func newSpecCmd(o *output) *cobra.Command {
	cmd := &cobra.Command{Use: "spec", Short: "Check and export the spec"}
	var path string
	validate := &cobra.Command{
		Use:   "validate",
		Short: "Check the spec; every problem is reported with file:line:col",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := kiln.LoadSpec(path, nil)
			if err != nil {
				return err
			}
			o.ok("%s is valid: %d resources", path, len(s.Resources))
			return nil
		},
	}
	export := &cobra.Command{
		Use:   "openapi",
		Short: "Print the OpenAPI 3.1 document of the spec",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := kiln.LoadSpec(path, nil)
			if err != nil {
				return err
			}
			doc, err := openapi.Generate(s)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(doc))
			return err
		},
	}
	postman := &cobra.Command{
		Use:   "postman",
		Short: "Print a Postman collection (v2.1) for the spec, runnable with Newman",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := kiln.LoadSpec(path, nil)
			if err != nil {
				return err
			}
			doc, err := openapi.Postman(s)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(doc))
			return err
		},
	}
	for _, c := range []*cobra.Command{validate, export, postman} {
		c.Flags().StringVar(&path, "spec", envOr("KILN_SPEC", "kiln.yaml"), "spec file (env KILN_SPEC)")
		cmd.AddCommand(c)
	}
	return cmd
}
