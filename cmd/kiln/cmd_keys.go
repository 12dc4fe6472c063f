package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/auth"
)

func newKeys(o *output) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage API keys"}
	cmd.AddCommand(newKeysCreate(o), newKeysList(o), newKeysRevoke(o))
	return cmd
}

func openKeys(cmd *cobra.Command, s *settings) (*kiln.App, *auth.Keys, error) {
	app, err := openForAccounts(cmd, s)
	if err != nil {
		return nil, nil, err
	}
	if app.Accounts == nil {
		_ = app.Close()
		return nil, nil, kiln.ErrNoAccounts
	}
	return app, app.Accounts.Keys(), nil
}

func newKeysCreate(o *output) *cobra.Command {
	var s settings
	var key auth.APIKey
	var expires time.Duration
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API key; its secret is printed once",
		RunE: func(cmd *cobra.Command, _ []string) error {
			app, keys, err := openKeys(cmd, &s)
			if err != nil {
				return err
			}
			defer app.Close()
			if err := auth.ValidateKey(app.Spec, key); err != nil {
				return describeErr(err)
			}
			created, secret, err := keys.Create(cmd.Context(), key, expires)
			if err != nil {
				return err
			}
			o.ok("created key %s (%s): store this secret now, it is not shown again:", created.Prefix, created.ID)
			o.info("%s", secret)
			return nil
		},
	}
	s.bind(cmd)
	cmd.Flags().StringVar(&key.Name, "name", "", "what the key is for (required)")
	cmd.Flags().StringVar(&key.Role, "role", "", "the role the key acts with (required)")
	cmd.Flags().StringSliceVar(&key.Scopes, "scope", nil, "resource:action, resource:read|write|* (repeatable)")
	cmd.Flags().DurationVar(&expires, "expires", 0, "lifetime such as 720h (default: no expiry)")
	return cmd
}

func newKeysList(o *output) *cobra.Command {
	var s settings
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never their secrets)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			app, keys, err := openKeys(cmd, &s)
			if err != nil {
				return err
			}
			defer app.Close()
			list, err := keys.List(cmd.Context())
			if err != nil {
				return err
			}
			for _, k := range list {
				state := "active"
				switch {
				case k.Revoked:
					state = "revoked"
				case k.ExpiresAt != nil && time.Now().After(*k.ExpiresAt):
					state = "expired"
				}
				o.info("%-14s %-20s %-8s %-8s %v", k.Prefix, k.Name, k.Role, state, k.Scopes)
			}
			return nil
		},
	}
	s.bind(cmd)
	return cmd
}

func newKeysRevoke(o *output) *cobra.Command {
	var s settings
	cmd := &cobra.Command{
		Use:   "revoke ID|PREFIX",
		Short: "Revoke an API key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			app, keys, err := openKeys(cmd, &s)
			if err != nil {
				return err
			}
			defer app.Close()
			found, err := keys.Revoke(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if !found {
				return kiln.ErrNoSuchKey
			}
			o.ok("revoked %s", args[0])
			return nil
		},
	}
	s.bind(cmd)
	return cmd
}
