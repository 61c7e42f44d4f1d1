// Command mint prints a user access token for the benchmark, signed the way
// the server signs them (JWT_SECRET from the environment).
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/neuronmeet/api/internal/auth"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mint <user-id> <email>")
		os.Exit(2)
	}
	secret := os.Getenv("JWT_SECRET")
	if secret == "" {
		fmt.Fprintln(os.Stderr, "mint: JWT_SECRET is required")
		os.Exit(2)
	}
	token, err := auth.NewTokens([]byte(secret), time.Hour).IssueUser(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "mint:", err)
		os.Exit(1)
	}
	fmt.Println(token)
}
