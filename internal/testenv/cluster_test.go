package testenv

import (
	"context"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestPasswordCluster(t *testing.T) {
	c := PasswordCluster(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.DSN())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	bad := "postgres://warehouse:wrong@" + c.Host + ":" + strconv.Itoa(c.Port) + "/warehouse?sslmode=disable"
	if _, err := pgx.Connect(ctx, bad); err == nil {
		t.Fatal("wrong password accepted")
	} else {
		t.Log(err)
	}
	c.Stop()
	if _, err := pgx.Connect(ctx, c.DSN()); err == nil {
		t.Fatal("stopped cluster accepted a connection")
	}
	c.Start()
	conn, err = pgx.Connect(ctx, c.DSN())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
}
