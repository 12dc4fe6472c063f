package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kiln-dev/kiln"
)

func newUsers(o *output) *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Manage accounts (as the operator: access rules do not apply)"}
	cmd.AddCommand(newUsersCreate(o), newUsersSetRole(o), newUsersDisable(o))
	return cmd
}

func openForAccounts(cmd *cobra.Command, s *settings) (*kiln.App, error) {
	cfg := s.config(discardLogger())
	cfg.NoTokens, cfg.Admin, cfg.NoWorkers = true, true, true
	return kiln.New(cmd.Context(), cfg)
}

func newUsersCreate(o *output) *cobra.Command {
	var s settings
	var email, role, name string
	var sets []string
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an account; the password comes from stdin (--password-stdin) or a prompt, never a flag",
		RunE: func(cmd *cobra.Command, _ []string) error {
			password, err := readPassword(cmd, fromStdin)
			if err != nil {
				return err
			}
			app, err := openForAccounts(cmd, &s)
			if err != nil {
				return err
			}
			defer app.Close()
			if app.Spec.Auth == nil {
				return kiln.ErrNoAccounts
			}
			fields, err := parseSets(app.Spec.Resource(app.Spec.Auth.Account), sets)
			if err != nil {
				return err
			}
			if name != "" {
				if _, both := fields["name"]; both {
					return errors.New("--set name and --name: give the name once")
				}
				fields["name"] = name
			}
			rec, err := app.CreateAccountWith(cmd.Context(), email, role, password, fields)
			if err != nil {
				return describeAccountErr(err)
			}
			o.ok("created account %s (%s) with role %s", email, rec.ID, role)
			return nil
		},
	}
	s.bind(cmd)
	cmd.Flags().StringVar(&email, "email", "", "email address (required)")
	cmd.Flags().StringVar(&role, "role", "", "role (required)")
	cmd.Flags().StringVar(&name, "name", "", "display name")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "another field of the account, as field=value (repeatable; read by the field's type, validated like the API)")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	_ = cmd.MarkFlagRequired("email")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newUsersSetRole(o *output) *cobra.Command {
	var s settings
	var email, role string
	cmd := &cobra.Command{
		Use:   "set-role",
		Short: "Change an account's role",
		RunE: func(cmd *cobra.Command, _ []string) error {
			app, err := openForAccounts(cmd, &s)
			if err != nil {
				return err
			}
			defer app.Close()
			if _, err := app.UpdateAccount(cmd.Context(), email, map[string]any{"role": role}); err != nil {
				return describeErr(err)
			}
			o.ok("%s now has role %s", email, role)
			return nil
		},
	}
	s.bind(cmd)
	cmd.Flags().StringVar(&email, "email", "", "email address (required)")
	cmd.Flags().StringVar(&role, "role", "", "new role (required)")
	_ = cmd.MarkFlagRequired("email")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newUsersDisable(o *output) *cobra.Command {
	var s settings
	var email string
	var enable bool
	cmd := &cobra.Command{
		Use:   "disable",
		Short: "Disable an account (it cannot sign in; its tokens stop working), or --enable it again",
		RunE: func(cmd *cobra.Command, _ []string) error {
			app, err := openForAccounts(cmd, &s)
			if err != nil {
				return err
			}
			defer app.Close()
			if _, err := app.UpdateAccount(cmd.Context(), email, map[string]any{"disabled": !enable}); err != nil {
				return describeErr(err)
			}
			if enable {
				o.ok("%s is enabled", email)
			} else {
				o.ok("%s is disabled", email)
			}
			return nil
		},
	}
	s.bind(cmd)
	cmd.Flags().StringVar(&email, "email", "", "email address (required)")
	cmd.Flags().BoolVar(&enable, "enable", false, "enable the account instead")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

// readPassword reads one line from stdin, or prompts without echo on a terminal.
func readPassword(cmd *cobra.Command, fromStdin bool) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && !fromStdin && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(cmd.ErrOrStderr(), "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		return string(b), err
	}
	if !fromStdin {
		return "", errors.New("give the password on stdin with --password-stdin (flags would leak it to the process list)")
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
