package model

import "github.com/99designs/gqlgen/graphql"

// UpdateProfileInput is Mutation.updateProfile's input. avatarUrl has
// three states, as PATCH /users/me's body has (absent: unchanged, null:
// cleared, a value: replaced), which a generated *string could not tell
// apart.
type UpdateProfileInput struct {
	DisplayName *string                    `json:"displayName"`
	AvatarURL   graphql.Omittable[*string] `json:"avatarUrl"`
}
