package main

// configCmd groups the commands about gavel's configuration.
type configCmd struct {
	Check configCheckCmd `cmd:"" help:"Load and validate the configuration, then print it with secrets masked."`
}

type configCheckCmd struct{}

func (configCheckCmd) Run(rt *Runtime) error {
	cfg, err := rt.LoadConfig()
	if err != nil {
		return err
	}
	return cfg.WriteTOML(rt.Stdout)
}
