package main

import "errors"

type listenCmd struct{}

func (listenCmd) Run() error { return errors.New("not yet") }
